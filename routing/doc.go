// Package routing holds meshnet's per-network forwarding state and the
// Forwarder that moves frames between devices and transports.
//
// The control plane (the node, from config and gossip) writes a Table; every
// change publishes a new immutable Snapshot through an atomic pointer. The
// Forwarder reads snapshots once per batch and never takes the Table's lock,
// so control-plane churn never stalls the data path.
//
// routing owns the forwarding table and the Forwarder: ports, learning,
// ARP/ND answering, replication and the drop counters. It imports
// internal/packet (MAC, Ethernet helpers, checksum, the Hook it calls) and
// encap, only for the Transport and Batch it sends through, the Receiver
// it is handed packets as, the VXLAN header codec and the headroom; it
// defines the small Device interface it
// needs of a tun device itself and never imports tun, lb or gossip (the
// node translates gossip events into Table transactions).
//
// Goroutines and locks: Table.mu serialises writers (the node's reconciler);
// readers load the published Snapshot without a lock. Each Port's Run is
// one goroutine that owns the port's buffers, batch and scratch; inbound
// delivery (the Receivers from PlainReceiver and SecureReceiver) runs on
// the transports' receive goroutines, several at once, and shares only
// snapshots and atomic counters.
// Forwarder.mu serialises attaching and detaching ports; the data path
// reads the port set through an atomic pointer.
package routing
