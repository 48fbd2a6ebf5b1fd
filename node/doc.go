// Package node assembles one meshnet daemon from its configuration: devices,
// transports, the forwarding table and Forwarder, the control API, and (as
// they are configured) gossip, keys and services. It owns every goroutine
// and resource it starts and releases them all on shutdown.
package node
