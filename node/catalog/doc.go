// Package catalog is the cluster's catalog as people see and change it
// through the control API: the networks and services the cluster defines,
// defining new ones (and telling the caller when a concurrent definition
// elsewhere won), removing services, and registering this node's
// backends. The node's reconciler reads definitions through it too.
//
// It reaches gossip through the small Gossip interface and this node
// through Local, so it is tested with a fake gossip and without a node.
// It starts no goroutines and keeps no state; a call may come from any
// goroutine.
//
// It imports node/api, node/config, node/control (for the errors the API
// maps to status codes) and node/tables, and no other package under
// node/; the node imports it.
package catalog
