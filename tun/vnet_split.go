package tun

// Read side of the virtio-net offloads: finishing partial checksums and
// cutting super-frames (GSO) into the MTU-sized segments the overlay
// carries, in software, the way the kernel would have before handing the
// frames to a device without offloads.
//
// A super-frame is headers (L2 if any, IP, TCP or UDP) followed by up to
// 64 KiB of payload; segment i carries payload bytes [i*gso_size,
// (i+1)*gso_size) behind a copy of the headers with the IP length, IPv4
// identification, TCP sequence number, TCP flags and L4 checksum fixed up.
// Only the FIN and PSH flags of the last segment survive, and CWR only on
// the first, as the kernel's own segmentation does.

import (
	"encoding/binary"

	"meshnet.dev/meshnet/internal/packet"
)

// superFrame describes how to cut one GSO frame.
type superFrame struct {
	l3, l4  int  // offsets of the IP and L4 headers in the frame
	hdrLen  int  // bytes of headers every segment repeats
	gsoSize int  // payload bytes per segment (the last may carry fewer)
	segs    int  // number of segments
	v6      bool // IPv6 (else IPv4)
	udp     bool // UDP (else TCP)
}

// parseSuperFrame checks a GSO frame against its virtio-net header and
// describes its segments. eth says the frame starts with an Ethernet
// header. It trusts nothing the kernel could get wrong: the header
// lengths come from the packet itself, not from hdr_len.
func parseSuperFrame(frame []byte, h vnetHdr, eth bool) (superFrame, DropReason) {
	var sf superFrame
	l3, v := l3Offset(frame, eth)
	switch {
	case v == 0:
		return sf, DropBadOffload
	case h.gsoType == vnetGSOTCPv4 && v != 4, h.gsoType == vnetGSOTCPv6 && v != 6:
		return sf, DropBadOffload
	case h.gsoType != vnetGSOTCPv4 && h.gsoType != vnetGSOTCPv6 && h.gsoType != vnetGSOUDPL4:
		return sf, DropBadOffload
	case h.gsoSize == 0:
		return sf, DropBadOffload
	}
	sf.l3, sf.v6, sf.udp, sf.gsoSize = l3, v == 6, h.gsoType == vnetGSOUDPL4, int(h.gsoSize)
	proto := byte(packet.ProtoTCP)
	if sf.udp {
		proto = packet.ProtoUDP
	}
	if sf.v6 {
		if len(frame) < l3+packet.IPv6HeaderLen || frame[l3+6] != proto {
			return sf, DropBadOffload // extension headers are not cut
		}
		sf.l4 = l3 + packet.IPv6HeaderLen
	} else {
		if len(frame) < l3+packet.IPv4MinHeaderLen || frame[l3+9] != proto {
			return sf, DropBadOffload
		}
		sf.l4 = l3 + int(frame[l3]&0x0f)*4
		if sf.l4 < l3+packet.IPv4MinHeaderLen {
			return sf, DropBadOffload
		}
	}
	if int(h.csumStart) != sf.l4 {
		return sf, DropBadOffload
	}
	if sf.udp {
		sf.hdrLen = sf.l4 + packet.UDPHeaderLen
	} else {
		if len(frame) < sf.l4+packet.TCPMinHeaderLen {
			return sf, DropBadOffload
		}
		thl := int(frame[sf.l4+12]>>4) * 4
		if thl < packet.TCPMinHeaderLen {
			return sf, DropBadOffload
		}
		sf.hdrLen = sf.l4 + thl
	}
	payload := len(frame) - sf.hdrLen
	if payload <= 0 {
		return sf, DropBadOffload
	}
	sf.segs = (payload + sf.gsoSize - 1) / sf.gsoSize
	return sf, DropNone
}

// segLen is the length of segment i.
func (sf *superFrame) segLen(frameLen, i int) int {
	start := sf.hdrLen + i*sf.gsoSize
	return sf.hdrLen + min(sf.gsoSize, frameLen-start)
}

// segment writes segment i of frame into out and returns its length, or 0
// if out is too short. out may be frame itself for segment 0 only, and
// then only after every other segment was taken: the headers it fixes up
// are the ones the others copy.
func (sf *superFrame) segment(frame []byte, i int, out []byte) int {
	n := sf.segLen(len(frame), i)
	if len(out) < n {
		return 0
	}
	pkt := out[:n]
	if &pkt[0] != &frame[0] {
		start := sf.hdrLen + i*sf.gsoSize
		copy(pkt, frame[:sf.hdrLen])
		copy(pkt[sf.hdrLen:], frame[start:start+n-sf.hdrLen])
	}
	ip := pkt[sf.l3:]
	var src, dst []byte
	if sf.v6 {
		binary.BigEndian.PutUint16(ip[4:6], uint16(n-sf.l3-packet.IPv6HeaderLen))
		src, dst = ip[8:24], ip[24:40]
	} else {
		binary.BigEndian.PutUint16(ip[2:4], uint16(n-sf.l3))
		id := binary.BigEndian.Uint16(frame[sf.l3+4:])
		binary.BigEndian.PutUint16(ip[4:6], id+uint16(i))
		packet.PutIPv4HeaderChecksum(ip[:sf.l4-sf.l3])
		src, dst = ip[12:16], ip[16:20]
	}
	l4 := pkt[sf.l4:]
	proto := uint8(packet.ProtoTCP)
	csumAt := 16
	if sf.udp {
		proto, csumAt = packet.ProtoUDP, 6
		binary.BigEndian.PutUint16(l4[4:6], uint16(len(l4)))
	} else {
		seq := binary.BigEndian.Uint32(frame[sf.l4+4:])
		binary.BigEndian.PutUint32(l4[4:8], seq+uint32(i*sf.gsoSize))
		flags := frame[sf.l4+13]
		if i != sf.segs-1 {
			flags &^= tcpFlagFIN | tcpFlagPSH
		}
		if i != 0 {
			flags &^= tcpFlagCWR
		}
		l4[13] = flags
	}
	l4[csumAt], l4[csumAt+1] = 0, 0
	c := ^packet.Fold(packet.Sum(packet.PseudoHeaderSum(src, dst, proto, len(l4)), l4))
	if c == 0 && sf.udp {
		c = 0xffff // zero means "no checksum" in UDP
	}
	binary.BigEndian.PutUint16(l4[csumAt:], c)
	return n
}

// finishChecksum completes the partial checksum of a frame the kernel
// handed over with NEEDS_CSUM: the field at csum_start+csum_offset holds
// the pseudo-header sum, and the rest is summed from csum_start on.
func finishChecksum(frame []byte, h vnetHdr) DropReason {
	start, at := int(h.csumStart), int(h.csumStart)+int(h.csumOffset)
	if start >= len(frame) || at+2 > len(frame) || at < start {
		return DropBadOffload
	}
	c := ^packet.Fold(packet.Sum(0, frame[start:]))
	if c == 0 {
		c = 0xffff // as the kernel does: a computed zero is sent as all ones
	}
	binary.BigEndian.PutUint16(frame[at:], c)
	return DropNone
}
