// Package routing holds meshnet's per-network forwarding state and the
// Forwarder that moves frames between devices and transports.
//
// The control plane (static config today, gossip later) writes a Table; every
// change publishes a new immutable Snapshot through an atomic pointer. The
// Forwarder reads snapshots once per batch and never takes the Table's lock,
// so control-plane churn never stalls the data path.
//
// routing never imports gossip: the node translates gossip events into Table
// transactions.
package routing
