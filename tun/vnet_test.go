package tun

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"meshnet.dev/meshnet/internal/packet"
	"meshnet.dev/meshnet/internal/testenv"
)

// testFlow builds TCP or UDP packets of one flow, with or without an
// Ethernet header in front.
type testFlow struct {
	eth, v6, udp bool
	tcpOpts      []byte // TCP options (multiple of 4 bytes)
}

var (
	testSrcMAC = packet.MAC{2, 0, 0, 0, 0, 1}
	testDstMAC = packet.MAC{2, 0, 0, 0, 0, 2}
)

func (f testFlow) l3() int {
	if f.eth {
		return packet.EthHeaderLen
	}
	return 0
}

func (f testFlow) hdrLen() int {
	n := f.l3() + packet.IPv4MinHeaderLen
	if f.v6 {
		n = f.l3() + packet.IPv6HeaderLen
	}
	if f.udp {
		return n + packet.UDPHeaderLen
	}
	return n + packet.TCPMinHeaderLen + len(f.tcpOpts)
}

// packet returns a finished packet (valid checksums) carrying payload, with
// sequence number seq and TCP flags flags, in a buffer with capacity room
// for growth after it.
func (f testFlow) packet(payload []byte, seq uint32, flags byte, room int) []byte {
	n := f.hdrLen() + len(payload)
	b := make([]byte, n, n+room)
	l3 := f.l3()
	if f.eth {
		copy(b[0:6], testDstMAC[:])
		copy(b[6:12], testSrcMAC[:])
		et := uint16(packet.EtherTypeIPv4)
		if f.v6 {
			et = packet.EtherTypeIPv6
		}
		binary.BigEndian.PutUint16(b[12:14], et)
	}
	proto := byte(packet.ProtoTCP)
	if f.udp {
		proto = packet.ProtoUDP
	}
	ip := b[l3:]
	var l4 int
	var src, dst []byte
	if f.v6 {
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:6], uint16(n-l3-packet.IPv6HeaderLen))
		ip[6], ip[7] = proto, 64
		copy(ip[8:24], []byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
		copy(ip[24:40], []byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2})
		l4, src, dst = l3+packet.IPv6HeaderLen, ip[8:24], ip[24:40]
	} else {
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:4], uint16(n-l3))
		binary.BigEndian.PutUint16(ip[4:6], uint16(seq))
		ip[6] = 0x40 // DF
		ip[8], ip[9] = 64, proto
		copy(ip[12:16], []byte{10, 0, 0, 1})
		copy(ip[16:20], []byte{10, 0, 0, 2})
		packet.PutIPv4HeaderChecksum(ip[:20])
		l4, src, dst = l3+packet.IPv4MinHeaderLen, ip[12:16], ip[16:20]
	}
	h := b[l4:]
	binary.BigEndian.PutUint16(h[0:2], 40000)
	binary.BigEndian.PutUint16(h[2:4], 5201)
	at := 16
	if f.udp {
		binary.BigEndian.PutUint16(h[4:6], uint16(n-l4))
		at = 6
	} else {
		binary.BigEndian.PutUint32(h[4:8], seq)
		binary.BigEndian.PutUint32(h[8:12], 777)
		h[12] = byte((packet.TCPMinHeaderLen+len(f.tcpOpts))/4) << 4
		h[13] = flags
		binary.BigEndian.PutUint16(h[14:16], 502)
		copy(h[packet.TCPMinHeaderLen:], f.tcpOpts)
	}
	copy(b[f.hdrLen():], payload)
	c := ^packet.Fold(packet.Sum(packet.PseudoHeaderSum(src, dst, proto, n-l4), b[l4:]))
	if c == 0 && f.udp {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(h[at:], c)
	return b
}

// superFrame builds what the kernel hands a device with offloads for a
// TCP (or UDP) send of payload cut at gso bytes: one frame with a partial
// checksum, and its virtio-net header in front.
func (f testFlow) superFrame(payload []byte, gso int, flags byte) []byte {
	pkt := f.packet(payload, 1000, flags, 0)
	l4 := f.hdrLen() - packet.TCPMinHeaderLen - len(f.tcpOpts)
	h := vnetHdr{flags: vnetFlagNeedsCsum, gsoType: vnetGSOTCPv4, gsoSize: uint16(gso), csumStart: uint16(l4), csumOffset: 16}
	if f.udp {
		l4 = f.hdrLen() - packet.UDPHeaderLen
		h.gsoType, h.csumStart, h.csumOffset = vnetGSOUDPL4, uint16(l4), 6
	} else if f.v6 {
		h.gsoType = vnetGSOTCPv6
	}
	h.hdrLen = uint16(f.hdrLen())
	// Partial checksum: only the pseudo-header, as the kernel leaves it.
	ip := pkt[f.l3():]
	src, dst := ip[12:16], ip[16:20]
	proto := byte(packet.ProtoTCP)
	if f.v6 {
		src, dst = ip[8:24], ip[24:40]
	}
	if f.udp {
		proto = packet.ProtoUDP
	}
	binary.BigEndian.PutUint16(pkt[l4+int(h.csumOffset):], packet.Fold(packet.PseudoHeaderSum(src, dst, proto, len(pkt)-l4)))
	out := make([]byte, vnetHdrLen+len(pkt))
	h.put(out)
	copy(out[vnetHdrLen:], pkt)
	return out
}

func testPayload(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + i>>8)
	}
	return p
}

func testFlows() []testFlow {
	return []testFlow{
		{eth: true}, {eth: true, v6: true}, {}, {v6: true},
		{eth: true, tcpOpts: []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}},
		{eth: true, udp: true}, {v6: true, udp: true},
	}
}

func (f testFlow) String() string {
	return fmt.Sprintf("eth=%t v6=%t udp=%t opts=%d", f.eth, f.v6, f.udp, len(f.tcpOpts))
}

// checkSegment verifies one segment cut from a super-frame.
func checkSegment(t *testing.T, f testFlow, seg []byte, i, segs int, wantPayload []byte) {
	t.Helper()
	l3 := f.l3()
	c, ok := candidate(seg, f.eth, true)
	if !ok && !(i == segs-1 && !f.udp && seg[c.l4+13]&tcpFlagFIN != 0) {
		t.Fatalf("segment %d is not a well-formed packet", i)
	}
	if !f.v6 && packet.Fold(packet.Sum(0, seg[l3:l3+20])) != 0xffff {
		t.Fatalf("segment %d: bad IPv4 header checksum", i)
	}
	l4 := f.hdrLen() - packet.TCPMinHeaderLen - len(f.tcpOpts)
	if f.udp {
		l4 = f.hdrLen() - packet.UDPHeaderLen
	}
	if !l4ChecksumValid(seg, l3, l4, f.v6, f.udp) {
		t.Fatalf("segment %d: bad L4 checksum", i)
	}
	if got := seg[f.hdrLen():]; !bytes.Equal(got, wantPayload) {
		t.Fatalf("segment %d: payload differs (%d bytes, want %d)", i, len(got), len(wantPayload))
	}
}

func TestVnetReaderCutsSuperFrames(t *testing.T) {
	const gso, off = 1000, 128
	for _, f := range testFlows() {
		for _, size := range []int{1, 999, 1000, 1001, 4500, 60000} {
			t.Run(fmt.Sprintf("%s/%d", f, size), func(t *testing.T) {
				payload := testPayload(size)
				flags := byte(tcpFlagACK | tcpFlagPSH | tcpFlagFIN)
				rd := f.superFrame(payload, gso, flags)
				bufs, sizes := vnetTestBufs(64, off)
				copy(bufs[0][off-vnetHdrLen:], rd)
				var drops dropCounters
				r := newVnetReader(f.eth, &drops)
				n := r.consume(bufs[0][off-vnetHdrLen:off+len(rd)-vnetHdrLen], true, bufs, sizes, off)
				segs := (size + gso - 1) / gso
				if n != segs || r.pending {
					t.Fatalf("got %d segments (pending %t), want %d; drops %v", n, r.pending, segs, drops.snapshot())
				}
				for i := range n {
					seg := bufs[i][off : off+sizes[i]]
					checkSegment(t, f, seg, i, segs, payload[i*gso:min(size, (i+1)*gso)])
					if f.udp {
						continue
					}
					th := seg[f.hdrLen()-packet.TCPMinHeaderLen-len(f.tcpOpts):]
					if got := binary.BigEndian.Uint32(th[4:8]); got != 1000+uint32(i*gso) {
						t.Fatalf("segment %d: seq %d", i, got)
					}
					want := byte(tcpFlagACK)
					if i == segs-1 {
						want = flags
					}
					if th[13] != want {
						t.Fatalf("segment %d: flags %#x, want %#x", i, th[13], want)
					}
				}
			})
		}
	}
}

func vnetTestBufs(n, off int) ([][]byte, []int) {
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, off+maxSuperFrame)
	}
	return bufs, make([]int, n)
}

// TestVnetReaderKeepsWhatDoesNotFit: a super-frame with more segments than
// the batch has buffers is handed out over several batches, whole.
func TestVnetReaderKeepsWhatDoesNotFit(t *testing.T) {
	const gso, off = 1000, 128
	f := testFlow{eth: true}
	payload := testPayload(25500)
	rd := f.superFrame(payload, gso, tcpFlagACK)
	var drops dropCounters
	r := newVnetReader(true, &drops)
	bufs, sizes := vnetTestBufs(10, off)
	copy(bufs[0][off-vnetHdrLen:], rd)
	var got [][]byte
	n := r.consume(bufs[0][off-vnetHdrLen:off+len(rd)-vnetHdrLen], true, bufs, sizes, off)
	for {
		for i := range n {
			got = append(got, bytes.Clone(bufs[i][off:off+sizes[i]]))
		}
		if !r.pending {
			break
		}
		n = r.emitPending(bufs, sizes, off)
	}
	if len(got) != 26 {
		t.Fatalf("got %d segments, want 26", len(got))
	}
	for i, seg := range got {
		checkSegment(t, f, seg, i, 26, payload[i*gso:min(len(payload), (i+1)*gso)])
	}
}

func TestVnetReaderFinishesChecksums(t *testing.T) {
	for _, f := range testFlows() {
		pkt := f.packet(testPayload(300), 5, tcpFlagACK, 0)
		want := bytes.Clone(pkt)
		l4 := f.hdrLen() - packet.TCPMinHeaderLen - len(f.tcpOpts)
		at := 16
		if f.udp {
			l4, at = f.hdrLen()-packet.UDPHeaderLen, 6
		}
		// Leave only the pseudo-header sum, as the kernel does.
		ip := pkt[f.l3():]
		src, dst, proto := ip[12:16], ip[16:20], byte(packet.ProtoTCP)
		if f.v6 {
			src, dst = ip[8:24], ip[24:40]
		}
		if f.udp {
			proto = packet.ProtoUDP
		}
		binary.BigEndian.PutUint16(pkt[l4+at:], packet.Fold(packet.PseudoHeaderSum(src, dst, proto, len(pkt)-l4)))
		rd := make([]byte, vnetHdrLen+len(pkt))
		vnetHdr{flags: vnetFlagNeedsCsum, csumStart: uint16(l4), csumOffset: uint16(at)}.put(rd)
		copy(rd[vnetHdrLen:], pkt)
		var drops dropCounters
		bufs, sizes := vnetTestBufs(1, 0)
		if n := newVnetReader(f.eth, &drops).consume(rd, false, bufs, sizes, 0); n != 1 {
			t.Fatalf("%s: consume = %d", f, n)
		}
		if got := bufs[0][:sizes[0]]; !bytes.Equal(got, want) {
			t.Fatalf("%s: finished packet differs from the original", f)
		}
	}
}

// coalesceRoundTrip coalesces frames (each in its own buffer at off) and
// returns what would be written: each unmerged frame with its header.
func coalesceRoundTrip(frames [][]byte, f testFlow, trusted bool) (out [][]byte, hdrs []vnetHdr) {
	const off = 64
	bufs := make([][]byte, len(frames))
	for i, fr := range frames {
		b := make([]byte, off+len(fr), off+70000)
		copy(b[off:], fr)
		bufs[i] = b
	}
	g := newGROBatch(len(bufs))
	g.coalesce(bufs, off, f.eth, true, trusted)
	g.finish(bufs, off, trusted)
	for i, b := range bufs {
		if g.merged[i] {
			continue
		}
		h, _ := parseVnetHdr(b[off-vnetHdrLen:])
		out = append(out, b[off:])
		hdrs = append(hdrs, h)
	}
	return out, hdrs
}

// TestGROInvertsSegmentation: segments of a flow coalesce into one
// super-frame, and cutting that again gives back the segments.
func TestGROInvertsSegmentation(t *testing.T) {
	const gso = 1200
	for _, f := range testFlows() {
		t.Run(f.String(), func(t *testing.T) {
			payload := testPayload(20*gso + 77)
			var segs [][]byte
			seq := uint32(1000)
			for len(payload) > 0 {
				n := min(gso, len(payload))
				flags := byte(tcpFlagACK)
				if n < gso {
					flags |= tcpFlagPSH
				}
				segs = append(segs, f.packet(payload[:n], seq, flags, 0))
				seq += uint32(n)
				payload = payload[n:]
			}
			out, hdrs := coalesceRoundTrip(segs, f, false)
			if len(out) != 1 {
				t.Fatalf("coalesced into %d frames, want 1", len(out))
			}
			h := hdrs[0]
			if h.flags != vnetFlagNeedsCsum || int(h.gsoSize) != gso || int(h.hdrLen) != f.hdrLen() {
				t.Fatalf("header %+v", h)
			}
			// The kernel completes the partial checksum when it cuts; do the
			// same and compare with the originals.
			rd := make([]byte, vnetHdrLen+len(out[0]))
			h.put(rd)
			copy(rd[vnetHdrLen:], out[0])
			var drops dropCounters
			bufs, sizes := vnetTestBufs(len(segs), 64)
			copy(bufs[0][64-vnetHdrLen:], rd)
			n := newVnetReader(f.eth, &drops).consume(bufs[0][64-vnetHdrLen:64+len(out[0])], true, bufs, sizes, 64)
			if n != len(segs) {
				t.Fatalf("re-cut into %d segments, want %d (drops %v)", n, len(segs), drops.snapshot())
			}
			for i := range n {
				got := bufs[i][64 : 64+sizes[i]]
				if !f.v6 {
					// IPv4 identification is renumbered from the head's.
					binary.BigEndian.PutUint16(got[f.l3()+4:], binary.BigEndian.Uint16(segs[i][f.l3()+4:]))
					packet.PutIPv4HeaderChecksum(got[f.l3() : f.l3()+20])
				}
				if !bytes.Equal(got, segs[i]) {
					t.Fatalf("segment %d differs after the round trip", i)
				}
			}
		})
	}
}

func TestGROKeepsApartWhatMustNotMerge(t *testing.T) {
	f := testFlow{eth: true}
	p := testPayload(1000)
	seg := func(seq uint32, flags byte) []byte { return f.packet(p, seq, flags, 0) }
	badSum := seg(2000, tcpFlagACK)
	badSum[len(badSum)-1] ^= 0xff
	otherAck := seg(2000, tcpFlagACK)
	binary.BigEndian.PutUint32(otherAck[packet.EthHeaderLen+20+8:], 778)
	otherAck[packet.EthHeaderLen+20+16], otherAck[packet.EthHeaderLen+20+17] = 0, 0
	ip := otherAck[packet.EthHeaderLen:]
	binary.BigEndian.PutUint16(otherAck[packet.EthHeaderLen+20+16:], ^packet.Fold(packet.Sum(packet.PseudoHeaderSum(ip[12:16], ip[16:20], packet.ProtoTCP, len(ip)-20), ip[20:])))
	tests := []struct {
		name    string
		frames  [][]byte
		trusted bool
		want    int
	}{
		{"contiguous", [][]byte{seg(1000, tcpFlagACK), seg(2000, tcpFlagACK), seg(3000, tcpFlagACK)}, false, 1},
		{"gap", [][]byte{seg(1000, tcpFlagACK), seg(3000, tcpFlagACK)}, false, 2},
		{"after PSH", [][]byte{seg(1000, tcpFlagACK|tcpFlagPSH), seg(2000, tcpFlagACK)}, false, 2},
		{"SYN", [][]byte{seg(1000, tcpFlagACK), seg(2000, tcpFlagACK|tcpFlagSYN)}, false, 2},
		{"bad checksum", [][]byte{seg(1000, tcpFlagACK), badSum}, false, 2},
		{"bad checksum, trusted", [][]byte{seg(1000, tcpFlagACK), badSum}, true, 1},
		{"other ack", [][]byte{seg(1000, tcpFlagACK), otherAck}, false, 2},
	}
	for _, tt := range tests {
		out, _ := coalesceRoundTrip(tt.frames, f, tt.trusted)
		if len(out) != tt.want {
			t.Errorf("%s: %d frames written, want %d", tt.name, len(out), tt.want)
		}
	}
}

// TestGRONeedsCapacity: nothing is appended beyond a buffer's capacity.
func TestGRONeedsCapacity(t *testing.T) {
	f := testFlow{}
	a, b := f.packet(testPayload(100), 1, tcpFlagACK, 0), f.packet(testPayload(100), 101, tcpFlagACK, 0)
	bufs := [][]byte{append(make([]byte, 16), a...), append(make([]byte, 16), b...)}
	bufs[0] = bufs[0][:len(bufs[0]):len(bufs[0])]
	g := newGROBatch(2)
	g.coalesce(bufs, 16, false, false, false)
	if g.merged[1] {
		t.Fatal("merged into a buffer without room")
	}
}

func TestOffloadPathsDoNotAllocate(t *testing.T) {
	testenv.SkipAllocsUnderRace(t)
	const off = 128
	f := testFlow{eth: true}
	rd := f.superFrame(testPayload(40*1000), 1000, tcpFlagACK)
	bufs, sizes := vnetTestBufs(64, off)
	var drops dropCounters
	r := newVnetReader(true, &drops)
	if a := testing.AllocsPerRun(20, func() {
		copy(bufs[0][off-vnetHdrLen:], rd)
		r.consume(bufs[0][off-vnetHdrLen:off-vnetHdrLen+len(rd)], true, bufs, sizes, off)
	}); a != 0 {
		t.Errorf("cutting a super-frame allocated %.1f times", a)
	}
	segs := make([][]byte, 40)
	for i := range segs {
		segs[i] = f.packet(testPayload(1000), uint32(1000*i), tcpFlagACK, 0)
	}
	wbufs := make([][]byte, len(segs))
	g := newGROBatch(len(segs))
	if a := testing.AllocsPerRun(20, func() {
		for i := range wbufs {
			wbufs[i] = bufs[i][:off+len(segs[i])]
			copy(wbufs[i][off:], segs[i])
		}
		g.coalesce(wbufs, off, true, false, false)
		g.finish(wbufs, off, false)
	}); a != 0 {
		t.Errorf("coalescing allocated %.1f times", a)
	}
}

// FuzzVnetRead feeds arbitrary read(2) results to the read side, landing
// where the device reads them: it never panics, never reports more frames
// than buffers, and every frame fits its buffer.
func FuzzVnetRead(f *testing.F) {
	for _, fl := range testFlows() {
		f.Add(fl.superFrame(testPayload(3000), 1000, tcpFlagACK), fl.eth)
	}
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x45}, false)
	f.Fuzz(func(t *testing.T, rd []byte, eth bool) {
		const off = 16
		var drops dropCounters
		r := newVnetReader(eth, &drops)
		bufs, sizes := make([][]byte, 4), make([]int, 4)
		for i := range bufs {
			bufs[i] = make([]byte, off+4000)
		}
		dst, inPlace := r.target(bufs[0], off)
		var n int
		if len(rd) > len(dst) {
			// The device reads on into the reader's own buffer.
			if len(rd) > len(dst)+len(r.own) {
				return
			}
			copy(dst, rd)
			copy(r.own, rd[len(dst):])
			n = r.consume(r.spilled(dst, len(rd)), false, bufs, sizes, off)
		} else {
			n = r.consume(dst[:copy(dst, rd)], inPlace, bufs, sizes, off)
		}
		// Up to 64 Ki segments of one byte, four at a time.
		for range 1 << 15 {
			if n > len(bufs) {
				t.Fatalf("%d frames in %d buffers", n, len(bufs))
			}
			for i := range n {
				if sizes[i] < 0 || off+sizes[i] > len(bufs[i]) {
					t.Fatalf("frame %d: size %d", i, sizes[i])
				}
			}
			if !r.pending {
				return
			}
			n = r.emitPending(bufs, sizes, off)
		}
		t.Fatal("pending segments never ran out")
	})
}

// FuzzGRO coalesces arbitrary frames: it never panics or grows a buffer
// past its capacity, and merges only candidates.
func FuzzGRO(f *testing.F) {
	fl := testFlow{eth: true}
	f.Add(fl.packet(testPayload(100), 1, tcpFlagACK, 0), fl.packet(testPayload(100), 101, tcpFlagACK, 0), true)
	fu := testFlow{udp: true}
	f.Add(fu.packet(testPayload(100), 1, 0, 0), fu.packet(testPayload(100), 1, 0, 0), false)
	f.Fuzz(func(t *testing.T, a, b []byte, eth bool) {
		const off = 16
		bufs := [][]byte{
			append(make([]byte, off), a...), append(make([]byte, off), b...),
			append(make([]byte, off), a...), append(make([]byte, off), b...),
		}
		g := newGROBatch(len(bufs))
		g.coalesce(bufs, off, eth, true, false)
		g.finish(bufs, off, false)
		for i := range bufs {
			if g.merged[i] {
				if _, ok := candidate(bufs[i][off:], eth, true); !ok {
					t.Fatalf("frame %d merged but is no candidate", i)
				}
			}
		}
	})
}

// TestVnetReaderSpill: a super-frame longer than the caller's buffer spills
// into the reader's own (as readv leaves it) and is cut whole.
func TestVnetReaderSpill(t *testing.T) {
	const gso, off = 1000, 72
	f := testFlow{eth: true}
	payload := testPayload(9500)
	rd := f.superFrame(payload, gso, tcpFlagACK)
	var drops dropCounters
	r := newVnetReader(true, &drops)
	bufs := make([][]byte, 16)
	for i := range bufs {
		bufs[i] = make([]byte, off+1600) // far shorter than the super-frame
	}
	sizes := make([]int, len(bufs))
	dst, inPlace := r.target(bufs[0], off)
	if !inPlace {
		t.Fatal("a buffer with headroom was not read in place")
	}
	copy(dst, rd)
	copy(r.own, rd[len(dst):])
	n := r.consume(r.spilled(dst, len(rd)), false, bufs, sizes, off)
	if n != 10 || r.pending {
		t.Fatalf("got %d segments (pending %t), want 10; drops %v", n, r.pending, drops.snapshot())
	}
	for i := range n {
		checkSegment(t, f, bufs[i][off:off+sizes[i]], i, n, payload[i*gso:min(len(payload), (i+1)*gso)])
	}
}
