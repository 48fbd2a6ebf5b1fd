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
package encap
