package encap

import (
	"encoding/binary"
	"net/netip"

	"meshnet.dev/meshnet/internal/packet"
)

// Inside WireGuard a meshnet packet is a standard VXLAN-over-UDP-over-IPv6
// packet between two VTEP addresses, exactly what a kernel vxlan device on a
// stock WireGuard interface sends and accepts:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version|    0 (TC)     |           Flow Label (flow hash)      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   Payload Length (8 + VXLAN)  | Next Hdr (17) | Hop Limit (64)|
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	+                  Source Address (sender's VTEP)               +
//	|                          (16 bytes)                           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	+              Destination Address (receiver's VTEP)            +
//	|                          (16 bytes)                           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Source Port (49152-65535)    |     Destination Port (4789)   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Length (8 + VXLAN)        |           Checksum            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                 VXLAN header and Ethernet frame ...
//
// The UDP checksum is always computed: IPv6 requires it (RFC 8200, 8.1) and
// a kernel vxlan socket drops zero checksums unless told otherwise.

const (
	// tunnelHeaderLen is what the wireguard transport puts in front of a
	// VXLAN packet: IPv6 and UDP.
	tunnelHeaderLen = packet.IPv6HeaderLen + packet.UDPHeaderLen

	// tunnelHopLimit is the hop limit of tunnelled packets, the usual
	// default; they cross one WireGuard hop and are never routed further.
	tunnelHopLimit = 64

	// tunnelSrcPortMin is the lowest UDP source port of tunnelled packets:
	// like a kernel vxlan device, the source port carries a hash of the
	// inner flow, within the dynamic range 49152-65535.
	tunnelSrcPortMin = 49152
)

// tunnelFields are the variable fields of one tunnelled packet's headers.
type tunnelFields struct {
	src, dst netip.Addr
	srcPort  uint16
	flow     uint32 // flow label, low 20 bits used
	fullSum  bool   // sum every byte for the UDP checksum (no LCO)
}

// encodeTunnelHeader writes the IPv6 and UDP headers for a VXLAN packet of
// payloadLen bytes into b[:tunnelHeaderLen], with a zero UDP checksum
// (putUDPChecksum fills it in). src and dst must be IPv6 addresses and
// payloadLen at most 65535-UDPHeaderLen.
func encodeTunnelHeader(b []byte, f tunnelFields, payloadLen int) {
	_ = b[tunnelHeaderLen-1]
	udpLen := uint16(packet.UDPHeaderLen + payloadLen)
	binary.BigEndian.PutUint32(b[0:4], 6<<28|f.flow&0xfffff)
	binary.BigEndian.PutUint16(b[4:6], udpLen)
	b[6] = packet.ProtoUDP
	b[7] = tunnelHopLimit
	src, dst := f.src.As16(), f.dst.As16()
	copy(b[8:24], src[:])
	copy(b[24:40], dst[:])
	u := b[packet.IPv6HeaderLen:]
	binary.BigEndian.PutUint16(u[0:2], f.srcPort)
	binary.BigEndian.PutUint16(u[2:4], Port)
	binary.BigEndian.PutUint16(u[4:6], udpLen)
	u[6], u[7] = 0, 0
}

// putUDPChecksum computes the UDP checksum of the tunnelled packet pkt
// (IPv6 header, UDP header with a zero checksum, payload) over the IPv6
// pseudo-header and stores it. A computed zero is sent as 0xffff, as UDP
// reserves zero for "no checksum". Unless full, the inner TCP or UDP
// segment is summed from its own checksum (wireguard_lco.go).
func putUDPChecksum(pkt []byte, full bool) {
	udp := pkt[packet.IPv6HeaderLen:]
	// The length in the pseudo-header equals the UDP length field, which
	// is summed once more as part of the UDP header below.
	sum := packet.PseudoHeaderSum(pkt[8:24], pkt[24:40], packet.ProtoUDP, len(udp))
	if full {
		sum = packet.Sum(sum, udp)
	} else {
		sum = packet.Sum(sum, udp[:packet.UDPHeaderLen])
		sum = packet.AddSum(sum, vxlanPayloadSum(udp[packet.UDPHeaderLen:]))
	}
	c := ^packet.Fold(sum)
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(udp[6:8], c)
}

// tunnelHeader is the parsed IPv6 and UDP header of a packet a peer sent
// through WireGuard.
type tunnelHeader struct {
	src, dst   netip.Addr
	dstPort    uint16
	payloadLen int // bytes after the UDP header: the VXLAN packet
}

// parseTunnelHeader checks the IPv6 and UDP headers at the start of pkt
// and reports why the packet is unusable, or WGDropNone. Bytes after the
// UDP length are ignored, as the kernel does. The UDP checksum is not
// verified: see the receive path.
func parseTunnelHeader(pkt []byte) (tunnelHeader, WGDropReason) {
	switch {
	case len(pkt) == 0:
		return tunnelHeader{}, WGDropTruncated
	case pkt[0]>>4 != 6:
		return tunnelHeader{}, WGDropNotIPv6
	case len(pkt) < packet.IPv6HeaderLen:
		return tunnelHeader{}, WGDropTruncated
	}
	payload := int(binary.BigEndian.Uint16(pkt[4:6]))
	switch {
	case packet.IPv6HeaderLen+payload > len(pkt):
		return tunnelHeader{}, WGDropBadLength
	case pkt[6] != packet.ProtoUDP:
		return tunnelHeader{}, WGDropNotUDP
	case payload < packet.UDPHeaderLen:
		return tunnelHeader{}, WGDropTruncated
	}
	udp := pkt[packet.IPv6HeaderLen:]
	udpLen := int(binary.BigEndian.Uint16(udp[4:6]))
	if udpLen < packet.UDPHeaderLen || udpLen > payload {
		return tunnelHeader{}, WGDropBadLength
	}
	return tunnelHeader{
		src:        netip.AddrFrom16([16]byte(pkt[8:24])),
		dst:        netip.AddrFrom16([16]byte(pkt[24:40])),
		dstPort:    binary.BigEndian.Uint16(udp[2:4]),
		payloadLen: udpLen - packet.UDPHeaderLen,
	}, WGDropNone
}
