// Package encap holds meshnet's wire formats and the transports that move
// them between nodes.
//
// A meshnet data packet is a standard VXLAN packet (RFC 7348): an 8-byte
// VXLAN header followed by an Ethernet frame. The plain transport sends it
// as-is over UDP (port 4789, interoperable with a kernel vxlan device); the
// wireguard transport carries it inside WireGuard as IPv6|UDP|VXLAN|Ethernet
// between per-node VTEP addresses.
//
// Plain is the plain transport (NewPlain). ChannelNetwork is an in-memory
// network of ChannelTransports for tests, with loss, partitions and
// injection of arbitrary bytes.
//
// encap owns the wire side of the data path: the VXLAN header codec, the
// headroom every data-path buffer leaves, the Transport interface (sending
// through lent batches, receiving into a Receiver) and its transports. It
// imports no other meshnet package except internal/packet (Ethernet and IP
// constants, checksum); it knows nothing of routing or devices.
//
// Goroutines and locks: a transport's receive goroutines are started by
// Start and stopped by Close, which waits for them; Receive runs on them,
// concurrently. Send, Borrow and the lent Batch may be used from any
// goroutine, but a Batch belongs to the goroutine that borrowed it until
// Return. Configuration of the WireGuard transport (SetPeers, RemovePeer,
// SetPrivateKey, Close) is serialised by WireGuard.mu; the send path reads
// only what configuration publishes through atomic pointers (own VTEP,
// peers' VTEPs, the receiver). Counters are atomics.
package encap
