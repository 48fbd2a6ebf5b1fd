// Package control is the daemon's control API: HTTP+JSON on the unix
// socket in the state directory (Serve, one handler per route, the call
// helper that decodes a request and maps an error to a status), and what
// the read routes compute: status, peers, the doctor's checks with path
// MTU probing, and ping over the overlay.
//
// It sees the node only through the Node interface: a State copied for
// each call, two live probes and the operations the API offers; the node
// implements it and the tests use a fake. The server goroutine (one per
// connection, by net/http) is the only one it starts; Serve's stop ends it.
// It holds no state between calls.
//
// It imports node/api (the wire types), node/config and node/tables, and
// no other package under node/; the node imports it.
package control
