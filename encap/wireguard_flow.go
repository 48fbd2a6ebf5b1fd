package encap

import (
	"encoding/binary"

	"meshnet.dev/meshnet/internal/packet"
)

// Per-flow entropy for tunnelled packets. A kernel vxlan device picks the
// outer UDP source port from a hash of the inner flow so that receivers can
// spread flows over queues; meshnet does the same and also puts the hash in
// the IPv6 flow label (RFC 6438). Packets of one flow always get the same
// values, so they are never reordered by anything that hashes them.

const (
	fnvOffset32 = 2166136261
	fnvPrime32  = 16777619
)

// flowHash hashes the flow identity of a VXLAN packet: its VNI, the inner
// Ethernet addresses and type and, for IPv4 and IPv6, the addresses and the
// TCP, UDP or SCTP ports. Whatever is missing from a short packet is left
// out. It does not allocate.
func flowHash(vxlan []byte) uint32 {
	h := uint32(fnvOffset32)
	if len(vxlan) < HeaderLen {
		return fnvAdd(h, vxlan)
	}
	h = fnvAdd(h, vxlan[4:7]) // VNI
	frame := vxlan[HeaderLen:]
	if len(frame) < packet.EthHeaderLen {
		return fnvAdd(h, frame)
	}
	h = fnvAdd(h, frame[:packet.EthHeaderLen])
	l3 := frame[packet.EthHeaderLen:]
	var proto byte
	var l4 []byte
	switch packet.EtherType(frame) {
	case packet.EtherTypeIPv4:
		if len(l3) < packet.IPv4MinHeaderLen || l3[0]>>4 != 4 {
			return h
		}
		h = fnvAdd(h, l3[12:20])
		ihl := int(l3[0]&0x0f) * 4
		fragmented := binary.BigEndian.Uint16(l3[6:8])&0x3fff != 0
		if ihl < packet.IPv4MinHeaderLen || ihl > len(l3) || fragmented {
			return h
		}
		proto, l4 = l3[9], l3[ihl:]
	case packet.EtherTypeIPv6:
		if len(l3) < packet.IPv6HeaderLen || l3[0]>>4 != 6 {
			return h
		}
		h = fnvAdd(h, l3[8:40])
		proto, l4 = l3[6], l3[packet.IPv6HeaderLen:]
	default:
		return h
	}
	if (proto == packet.ProtoTCP || proto == packet.ProtoUDP || proto == packet.ProtoSCTP) && len(l4) >= 4 {
		h = fnvAdd(h, l4[:4])
	}
	return h
}

// fnvAdd runs FNV-1a over b, continuing from h.
func fnvAdd(h uint32, b []byte) uint32 {
	for _, c := range b {
		h ^= uint32(c)
		h *= fnvPrime32
	}
	return h
}

// flowSrcPort maps a flow hash into the dynamic port range, as the kernel
// does for vxlan: scaled, not reduced modulo, so every port is equally
// likely.
func flowSrcPort(h uint32) uint16 {
	const span = 65536 - tunnelSrcPortMin
	return tunnelSrcPortMin + uint16(uint64(h)*span>>32)
}

// flowLabel derives the 20-bit IPv6 flow label from a flow hash, using bits
// the source port does not depend on most.
func flowLabel(h uint32) uint32 {
	return (h ^ h>>20) & 0xfffff
}
