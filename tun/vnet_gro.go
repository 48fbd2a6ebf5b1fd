package tun

// Write side of the virtio-net offloads: generic receive offload in
// software. Within one Write batch, consecutive TCP segments of a flow
// (and, when the kernel takes UDP segmentation offload, equal-sized UDP
// datagrams of a flow) are appended to the first one's buffer and written
// as one super-frame, so the kernel's stack handles one large packet
// instead of dozens of MTU-sized ones. The rules follow the kernel's own
// GRO (net/ipv4/tcp_offload.c): same addresses, ports, IP TOS/TTL/DF,
// TCP options and acknowledgement; contiguous sequence numbers; only ACK
// and PSH flags, and nothing appended after a PSH or after a segment
// shorter than the first.
//
// Checksums: a coalesced frame goes to the kernel as CHECKSUM_PARTIAL,
// which the kernel trusts, so every segment's own checksum is verified
// before it is merged and a segment that fails is written alone for the
// kernel to drop. When the caller says the transport already verified the
// frames' integrity end to end (WriteVerified), the verification is
// skipped, as kernel WireGuard does for what it decrypts; frames written
// alone then carry DATA_VALID.
//
// A groBatch is per Write call (pooled): nothing is shared between
// concurrent writers.

import (
	"bytes"
	"encoding/binary"

	"meshnet.dev/meshnet/internal/packet"
)

const (
	// groMaxFlows bounds the flows one batch tracks; a frame of a flow
	// beyond it is written alone.
	groMaxFlows = 16
	// groMaxUDPSegs bounds datagrams in one UDP super-frame: the kernel
	// refuses more than 64 segments (UDP_MAX_SEGMENTS) on older releases.
	groMaxUDPSegs = 64
	// groKeyLen holds a tagged Ethernet header, two IPv6 addresses and
	// both ports.
	groKeyLen = packet.EthHeaderLen + vlanTagLen + 32 + 4
)

// groKey identifies a flow: the L2 header (TAP), the addresses and ports.
type groKey struct {
	b [groKeyLen]byte
	n uint8
}

// groFlow is a super-frame being built.
type groFlow struct {
	key     groKey
	head    int // index of the head frame in the batch
	l3, l4  int
	hdrLen  int
	gsoSize int
	segs    int
	nextSeq uint32
	v6, udp bool
	open    bool // more may be appended
	checked bool // the head's checksum was verified (or needs no check)
}

// groBatch is the scratch of one coalescing pass.
type groBatch struct {
	flows  []groFlow
	merged []bool // by batch index: appended to a head, not written alone
}

func newGROBatch(n int) *groBatch {
	return &groBatch{flows: make([]groFlow, 0, groMaxFlows), merged: make([]bool, n)}
}

// groCandidate describes a frame that may be coalesced.
type groCandidate struct {
	l3, l4, hdrLen int
	payload        int
	v6, udp        bool
	flags          byte
	seq, ack       uint32
}

// candidate checks whether frame can take part in coalescing at all.
func candidate(frame []byte, eth, udpOK bool) (groCandidate, bool) {
	var c groCandidate
	l3, v := l3Offset(frame, eth)
	if v == 0 {
		return c, false
	}
	ip := frame[l3:]
	var proto byte
	if v == 6 {
		if len(ip) < packet.IPv6HeaderLen || int(binary.BigEndian.Uint16(ip[4:6])) != len(ip)-packet.IPv6HeaderLen {
			return c, false
		}
		proto, c.l4, c.v6 = ip[6], l3+packet.IPv6HeaderLen, true
	} else {
		if len(ip) < packet.IPv4MinHeaderLen || ip[0]&0x0f != 5 || int(binary.BigEndian.Uint16(ip[2:4])) != len(ip) {
			return c, false // options, or trailing padding
		}
		if ip[6]&ipv4FlagMF != 0 || binary.BigEndian.Uint16(ip[6:8])&ipv4FragOffset != 0 {
			return c, false
		}
		proto, c.l4 = ip[9], l3+packet.IPv4MinHeaderLen
	}
	c.l3 = l3
	switch {
	case proto == packet.ProtoTCP:
		if len(frame) < c.l4+packet.TCPMinHeaderLen {
			return c, false
		}
		tcp := frame[c.l4:]
		thl := int(tcp[12]>>4) * 4
		c.flags = tcp[13]
		if thl < packet.TCPMinHeaderLen || len(tcp) < thl || c.flags&^tcpFlagPSH != tcpFlagACK {
			return c, false
		}
		c.hdrLen = c.l4 + thl
		c.seq, c.ack = binary.BigEndian.Uint32(tcp[4:8]), binary.BigEndian.Uint32(tcp[8:12])
	case proto == packet.ProtoUDP && udpOK:
		if len(frame) < c.l4+packet.UDPHeaderLen || int(binary.BigEndian.Uint16(frame[c.l4+4:])) != len(frame)-c.l4 {
			return c, false
		}
		c.udp, c.hdrLen = true, c.l4+packet.UDPHeaderLen
	default:
		return c, false
	}
	c.payload = len(frame) - c.hdrLen
	return c, c.payload > 0
}

// flowKey builds the flow identity of a candidate.
func flowKey(frame []byte, c *groCandidate) groKey {
	var k groKey
	n := copy(k.b[:], frame[:c.l3])
	if c.v6 {
		n += copy(k.b[n:], frame[c.l3+8:c.l3+40])
	} else {
		n += copy(k.b[n:], frame[c.l3+12:c.l3+20])
	}
	n += copy(k.b[n:], frame[c.l4:c.l4+4])
	k.n = uint8(n)
	return k
}

// ipCompatible compares the IP header fields that must match for two
// packets to be one: TOS/traffic class, TTL/hop limit, DF.
func ipCompatible(a, b []byte, v6 bool) bool {
	if v6 {
		return a[0] == b[0] && a[1]>>4 == b[1]>>4 && a[7] == b[7]
	}
	return a[1] == b[1] && a[6]>>5 == b[6]>>5 && a[8] == b[8]
}

// l4ChecksumValid verifies the TCP or UDP checksum of the IP packet in
// frame (a zero UDP checksum over IPv4 means none and passes).
func l4ChecksumValid(frame []byte, l3, l4 int, v6, udp bool) bool {
	ip := frame[l3:]
	var src, dst []byte
	if v6 {
		src, dst = ip[8:24], ip[24:40]
	} else {
		src, dst = ip[12:16], ip[16:20]
	}
	proto := uint8(packet.ProtoTCP)
	if udp {
		proto = packet.ProtoUDP
		if !v6 && binary.BigEndian.Uint16(frame[l4+6:]) == 0 {
			return true
		}
	}
	return packet.Fold(packet.Sum(packet.PseudoHeaderSum(src, dst, proto, len(frame)-l4), frame[l4:])) == 0xffff
}

// coalesce runs GRO over bufs (frames at off) and marks merged frames in
// g.merged; heads are finished by finish. trusted skips checksum
// verification. eth: frames carry an Ethernet header. udpOK: the device
// takes UDP super-frames.
func (g *groBatch) coalesce(bufs [][]byte, off int, eth, udpOK, trusted bool) {
	g.flows = g.flows[:0]
	clear(g.merged[:len(bufs)])
	for i := range bufs {
		frame := bufs[i][off:]
		c, ok := candidate(frame, eth, udpOK)
		if !ok {
			continue
		}
		k := flowKey(frame, &c)
		f := g.find(&k)
		if f != nil && g.append(bufs, off, f, i, &c, trusted) {
			g.merged[i] = true
			continue
		}
		if f != nil {
			f.open = false
		}
		g.start(&k, i, frame, &c)
	}
}

// find returns the open flow with key k, if tracked.
func (g *groBatch) find(k *groKey) *groFlow {
	for j := len(g.flows) - 1; j >= 0; j-- {
		if f := &g.flows[j]; f.open && f.key == *k {
			return f
		}
	}
	return nil
}

// start makes frame i the head of a new flow, if there is room to track
// it.
func (g *groBatch) start(k *groKey, i int, frame []byte, c *groCandidate) {
	if len(g.flows) == cap(g.flows) {
		// Reuse a closed slot with nothing merged, else give up.
		for j := range g.flows {
			if f := &g.flows[j]; !f.open && f.segs == 1 {
				*f = g.newFlow(k, i, frame, c)
				return
			}
		}
		return
	}
	g.flows = append(g.flows, g.newFlow(k, i, frame, c))
}

func (g *groBatch) newFlow(k *groKey, i int, frame []byte, c *groCandidate) groFlow {
	return groFlow{
		key: *k, head: i, l3: c.l3, l4: c.l4, hdrLen: c.hdrLen, gsoSize: c.payload, segs: 1,
		nextSeq: c.seq + uint32(c.payload), v6: c.v6, udp: c.udp,
		open: c.flags&tcpFlagPSH == 0,
	}
}

// append tries to append frame i to flow f and reports whether it did.
func (g *groBatch) append(bufs [][]byte, off int, f *groFlow, i int, c *groCandidate, trusted bool) bool {
	head := bufs[f.head][off:]
	frame := bufs[i][off:]
	if c.udp != f.udp || c.v6 != f.v6 || c.hdrLen != f.hdrLen || c.payload > f.gsoSize {
		return false
	}
	if !ipCompatible(head[f.l3:], frame[c.l3:], c.v6) {
		return false
	}
	if c.udp {
		if f.segs >= groMaxUDPSegs {
			return false
		}
	} else {
		ht := head[f.l4:]
		if c.seq != f.nextSeq || c.ack != binary.BigEndian.Uint32(ht[8:12]) ||
			!bytes.Equal(frame[c.l4+packet.TCPMinHeaderLen:c.hdrLen], ht[packet.TCPMinHeaderLen:f.hdrLen-f.l4]) {
			return false
		}
	}
	newLen := len(head) + c.payload
	if newLen-f.l3 > maxIPv4Total || cap(bufs[f.head])-off < newLen {
		return false
	}
	if !trusted {
		if !f.checked {
			if !l4ChecksumValid(head, f.l3, f.l4, f.v6, f.udp) {
				f.open = false
				return false
			}
			f.checked = true
		}
		if !l4ChecksumValid(frame, c.l3, c.l4, c.v6, c.udp) {
			return false
		}
	}
	b := bufs[f.head]
	b = b[:len(b)+c.payload]
	copy(b[off+len(head):], frame[c.hdrLen:])
	bufs[f.head] = b
	f.segs++
	if c.udp {
		// Nothing may follow a shorter datagram.
		f.open = c.payload == f.gsoSize
		return true
	}
	f.nextSeq += uint32(c.payload)
	if c.flags&tcpFlagPSH != 0 {
		b[off+f.l4+13] |= tcpFlagPSH
		f.open = false
	}
	if c.payload < f.gsoSize {
		f.open = false
	}
	return true
}

// finish writes the virtio-net header of every frame in front of it (at
// off-vnetHdrLen, which must exist) and fixes up the headers of coalesced
// heads. Frames written alone get an empty header, or DATA_VALID when
// trusted.
func (g *groBatch) finish(bufs [][]byte, off int, trusted bool) {
	alone := vnetHdr{}
	if trusted {
		alone.flags = vnetFlagDataValid
	}
	for i := range bufs {
		if !g.merged[i] {
			alone.put(bufs[i][off-vnetHdrLen:])
		}
	}
	for j := range g.flows {
		f := &g.flows[j]
		if f.segs < 2 {
			continue
		}
		frame := bufs[f.head][off:]
		ip := frame[f.l3:]
		var src, dst []byte
		if f.v6 {
			binary.BigEndian.PutUint16(ip[4:6], uint16(len(ip)-packet.IPv6HeaderLen))
			src, dst = ip[8:24], ip[24:40]
		} else {
			binary.BigEndian.PutUint16(ip[2:4], uint16(len(ip)))
			packet.PutIPv4HeaderChecksum(ip[:packet.IPv4MinHeaderLen])
			src, dst = ip[12:16], ip[16:20]
		}
		h := vnetHdr{flags: vnetFlagNeedsCsum, hdrLen: uint16(f.hdrLen), gsoSize: uint16(f.gsoSize), csumStart: uint16(f.l4)}
		l4 := frame[f.l4:]
		proto := uint8(packet.ProtoTCP)
		switch {
		case f.udp:
			proto, h.gsoType, h.csumOffset = packet.ProtoUDP, vnetGSOUDPL4, 6
			binary.BigEndian.PutUint16(l4[4:6], uint16(len(l4)))
		case f.v6:
			h.gsoType, h.csumOffset = vnetGSOTCPv6, 16
		default:
			h.gsoType, h.csumOffset = vnetGSOTCPv4, 16
		}
		// CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum,
		// not complemented; the kernel adds the rest.
		binary.BigEndian.PutUint16(l4[h.csumOffset:], packet.Fold(packet.PseudoHeaderSum(src, dst, proto, len(l4))))
		h.put(bufs[f.head][off-vnetHdrLen:])
	}
}
