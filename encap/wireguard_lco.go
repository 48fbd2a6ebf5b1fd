package encap

// Local checksum offload (the kernel's LCO, Documentation/networking/
// checksum-offloads.rst) for the tunnelled UDP checksum.
//
// The tunnelled UDP checksum covers the VXLAN packet: VXLAN header, inner
// Ethernet header, inner IP header and the inner TCP or UDP segment. When
// that segment carries a complete checksum of its own (every frame meshnet
// reads from its devices does: the device finishes partial checksums), the
// segment's ones'-complement sum is already known without reading it:
// together with the inner pseudo-header it sums to all ones, so it is the
// complement of the pseudo-header's sum. The outer checksum then costs a
// pass over the headers instead of over every byte.
//
// The result is the checksum a full pass would give whenever the inner
// checksum is right; when it is wrong, the outer one is wrong as well, so
// a receiver that checks either drops the packet, as it would have anyway.

import (
	"encoding/binary"

	"meshnet.dev/meshnet/internal/packet"
)

// lcoMin is the smallest inner L4 segment worth the shortcut; below it a
// full pass costs as little as parsing.
const lcoMin = 128

// vxlanPayloadSum returns the unfolded ones'-complement sum of the VXLAN
// packet pkt, using the inner TCP or UDP checksum in place of the inner
// segment's bytes when it can.
func vxlanPayloadSum(pkt []byte) uint64 {
	if start, end, segSum, ok := innerSegment(pkt); ok {
		sum := packet.Sum(0, pkt[:start])
		sum = packet.AddSum(sum, uint64(segSum))
		return packet.Sum(sum, pkt[end:])
	}
	return packet.Sum(0, pkt)
}

// innerSegment finds the TCP or UDP segment of the untagged IPv4 or IPv6
// frame inside the VXLAN packet pkt and returns its bounds and its sum
// as its checksum field implies. ok is false when the shortcut does not
// apply: another protocol, a fragment, IPv6 extension headers, an IPv4 UDP
// datagram without checksum, lengths that do not match, or a short
// segment.
func innerSegment(pkt []byte) (start, end int, sum uint16, ok bool) {
	const eth = HeaderLen + packet.EthHeaderLen // VXLAN header and inner Ethernet header
	if len(pkt) < eth+40 {
		return 0, 0, 0, false
	}
	ip := pkt[eth:]
	var proto byte
	var ps uint64
	switch binary.BigEndian.Uint16(pkt[eth-2 : eth]) {
	case packet.EtherTypeIPv4:
		ihl := int(ip[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(ip[2:4]))
		if ip[0]>>4 != 4 || ihl < 20 || total != len(ip) || total < ihl ||
			binary.BigEndian.Uint16(ip[6:8])&0x3fff != 0 { // MF or an offset: a fragment
			return 0, 0, 0, false
		}
		proto, start = ip[9], eth+ihl
		ps = packet.Sum(0, ip[12:20])
	case packet.EtherTypeIPv6:
		if ip[0]>>4 != 6 || int(binary.BigEndian.Uint16(ip[4:6])) != len(ip)-40 {
			return 0, 0, 0, false
		}
		proto, start = ip[6], eth+40
		ps = packet.Sum(0, ip[8:40])
	default:
		return 0, 0, 0, false
	}
	end = len(pkt)
	seg := pkt[start:end]
	if len(seg) < lcoMin || start%2 != 0 {
		return 0, 0, 0, false
	}
	switch proto {
	case packet.ProtoTCP:
	case packet.ProtoUDP:
		if binary.BigEndian.Uint16(seg[6:8]) == 0 || int(binary.BigEndian.Uint16(seg[4:6])) != len(seg) {
			return 0, 0, 0, false
		}
	default:
		return 0, 0, 0, false
	}
	ps = packet.AddSum(ps, uint64(proto)+uint64(len(seg)))
	// A valid segment and its pseudo-header sum to all ones.
	return start, end, ^packet.Fold(ps), true
}
