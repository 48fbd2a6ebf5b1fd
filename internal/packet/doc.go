// Package packet holds the packet basics every part of meshnet's data path
// shares: the MAC type and its tests (multicast, broadcast, zero),
// Ethernet header layout and accessors, IP header sizes and protocol
// numbers, the Internet checksum (full and incremental), and the Verdict
// and Hook types through which the Forwarder hands frames to the service
// load balancer.
//
// Everything here is a pure function over caller buffers or a constant:
// nothing allocates, locks or keeps state.
//
// packet is a leaf: it imports no other meshnet package, so tun, encap,
// routing and lb can all import it.
package packet
