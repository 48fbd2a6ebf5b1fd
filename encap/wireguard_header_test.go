package encap

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"meshnet.dev/meshnet/internal/packet"
)

var (
	testSrcVTEP = netip.MustParseAddr("fd12:3456::1")
	testDstVTEP = netip.MustParseAddr("fd12:3456::2")
)

// naiveChecksum is RFC 1071 done the obvious way, to check the fast one.
func naiveChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}

// udpChecksumOK verifies a tunnelled packet's UDP checksum over the IPv6
// pseudo-header the long way.
func udpChecksumOK(pkt []byte) bool {
	udp := pkt[packet.IPv6HeaderLen:]
	pseudo := make([]byte, 0, 40+len(udp))
	pseudo = append(pseudo, pkt[8:40]...)
	pseudo = binary.BigEndian.AppendUint32(pseudo, uint32(len(udp)))
	pseudo = append(pseudo, 0, 0, 0, packet.ProtoUDP)
	pseudo = append(pseudo, udp...)
	return binary.BigEndian.Uint16(udp[6:8]) != 0 && naiveChecksum(pseudo) == 0xffff
}

func TestTunnelEncodeParse(t *testing.T) {
	for _, size := range []int{0, 1, HeaderLen, HeaderLen + 14, 200, 1400, 1401, 9000} {
		pkt := make([]byte, size)
		if size >= HeaderLen+4 {
			fillPacket(pkt, 42, size)
		}
		out := make([]byte, tunnelHeaderLen+size+10)
		n := encodeTunnelled(out, pkt, tunnelFields{src: testSrcVTEP, dst: testDstVTEP})
		if n != tunnelHeaderLen+size {
			t.Fatalf("%d bytes: encoded %d, want %d", size, n, tunnelHeaderLen+size)
		}
		enc := out[:n]
		if !udpChecksumOK(enc) {
			t.Errorf("%d bytes: bad UDP checksum", size)
		}
		h, why := parseTunnelHeader(enc)
		if why != WGDropNone || h.src != testSrcVTEP || h.dst != testDstVTEP || h.dstPort != Port || h.payloadLen != size {
			t.Fatalf("%d bytes: parsed %+v, %v", size, h, why)
		}
		if string(enc[tunnelHeaderLen:]) != string(pkt) {
			t.Errorf("%d bytes: payload changed", size)
		}
		if enc[0]>>4 != 6 || enc[6] != packet.ProtoUDP || enc[7] != tunnelHopLimit {
			t.Errorf("%d bytes: IPv6 header % x", size, enc[:8])
		}
		if sp := binary.BigEndian.Uint16(enc[40:42]); sp < tunnelSrcPortMin {
			t.Errorf("%d bytes: source port %d below %d", size, sp, tunnelSrcPortMin)
		}
	}
	if n := encodeTunnelled(make([]byte, tunnelHeaderLen+9), make([]byte, 10), tunnelFields{src: testSrcVTEP, dst: testDstVTEP}); n != 0 {
		t.Errorf("encoding into a short buffer returned %d, want 0", n)
	}
}

// innerTCP is a VXLAN packet carrying IPv4 TCP between fixed hosts from
// source port sport.
func innerTCP(sport uint16) []byte {
	p := make([]byte, HeaderLen+14+20+20)
	Encode(p, 7)
	f := p[HeaderLen:]
	copy(f[0:12], []byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2})
	binary.BigEndian.PutUint16(f[12:14], packet.EtherTypeIPv4)
	ip := f[14:]
	ip[0], ip[9] = 0x45, packet.ProtoTCP
	copy(ip[12:20], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	binary.BigEndian.PutUint16(ip[20:22], sport)
	binary.BigEndian.PutUint16(ip[22:24], 80)
	return p
}

func TestFlowHash(t *testing.T) {
	a, b := innerTCP(1000), innerTCP(1000)
	b[len(b)-1] = 0x99 // payload bytes do not matter
	if flowHash(a) != flowHash(b) {
		t.Error("packets of one flow hash differently")
	}
	ports := map[uint16]bool{}
	for sport := uint16(1000); sport < 1100; sport++ {
		ports[flowSrcPort(flowHash(innerTCP(sport)))] = true
	}
	if len(ports) < 90 {
		t.Errorf("100 TCP flows got %d distinct source ports; want them spread", len(ports))
	}
	for _, h := range []uint32{0, 1, 0xffffffff} {
		if p := flowSrcPort(h); p < tunnelSrcPortMin {
			t.Errorf("flowSrcPort(%#x) = %d, below %d", h, p, tunnelSrcPortMin)
		}
		if l := flowLabel(h); l > 0xfffff {
			t.Errorf("flowLabel(%#x) = %#x, wider than 20 bits", h, l)
		}
	}
	for n := range 60 { // short and odd packets do not panic
		flowHash(innerTCP(1)[:n])
	}
}

// bareWireGuard is a transport with only its receive path, for feeding
// decrypted packets straight to it.
func bareWireGuard(vtep netip.Addr, batch int) *WireGuard {
	w := &WireGuard{batch: batch}
	w.vtep.Store(&vtep)
	w.rxScratch.New = func() any { return newWGRxScratch(batch) }
	return w
}

// decrypted lays out a tunnelled packet the way wireguard-go hands it to
// Write: at offset 16 of a large buffer.
func decrypted(vxlan []byte, src, dst netip.Addr, edit func(pkt []byte)) []byte {
	const off = wgReceiveOffset - tunnelHeaderLen
	buf := make([]byte, off+tunnelHeaderLen+len(vxlan), MaxPacket)
	encodeTunnelled(buf[off:], vxlan, tunnelFields{src: src, dst: dst})
	if edit != nil {
		edit(buf[off:])
	}
	return buf
}

func TestWireGuardDeliverChecks(t *testing.T) {
	const off = wgReceiveOffset - tunnelHeaderLen
	w := bareWireGuard(testDstVTEP, 16)
	good := func(i int) []byte {
		p := make([]byte, 100+i)
		fillPacket(p, 9, i)
		return decrypted(p, testSrcVTEP, testDstVTEP, nil)
	}
	other := netip.MustParseAddr("fd12:3456::3")
	bad := map[WGDropReason][]byte{
		WGDropNotIPv6:   decrypted(make([]byte, 20), testSrcVTEP, testDstVTEP, func(p []byte) { p[0] = 0x45 }),
		WGDropTruncated: decrypted(nil, testSrcVTEP, testDstVTEP, func(p []byte) { binary.BigEndian.PutUint16(p[4:6], 4) })[:off+44],
		WGDropBadLength: decrypted(make([]byte, 20), testSrcVTEP, testDstVTEP, func(p []byte) { binary.BigEndian.PutUint16(p[44:46], 40) }),
		WGDropNotUDP:    decrypted(make([]byte, 20), testSrcVTEP, testDstVTEP, func(p []byte) { p[6] = packet.ProtoTCP }),
		WGDropWrongPort: decrypted(make([]byte, 20), testSrcVTEP, testDstVTEP, func(p []byte) { binary.BigEndian.PutUint16(p[42:44], 4790) }),
		WGDropNotForUs:  decrypted(make([]byte, 20), testSrcVTEP, other, nil),
	}

	// Before Start everything is dropped as not started.
	if n, err := w.deliver([][]byte{good(0)}, off); n != 1 || err != nil {
		t.Fatalf("deliver before Start = %d, %v", n, err)
	}
	rec := newWGRecorder(t)
	var r Receiver = rec
	w.receiver.Store(&r)

	var bufs [][]byte
	for i := range 3 {
		bufs = append(bufs, good(i))
	}
	for reason := WGDropNotIPv6; reason < WGDropNotStarted; reason++ {
		bufs = append(bufs, bad[reason])
	}
	bufs = append(bufs, good(3))
	if n, err := w.deliver(bufs, off); n != len(bufs) || err != nil {
		t.Fatalf("deliver = %d, %v; want %d, nil", n, err, len(bufs))
	}
	if rec.calls != 1 {
		t.Errorf("one Write became %d Receive calls, want 1", rec.calls)
	}
	pkts := rec.snapshot()
	if len(pkts) != 4 {
		t.Fatalf("delivered %d packets, want 4", len(pkts))
	}
	for i, p := range pkts {
		want := make([]byte, 100+i)
		fillPacket(want, 9, i)
		if string(p.data) != string(want) || p.from != netip.AddrPortFrom(testSrcVTEP, Port) {
			t.Errorf("packet %d: %d bytes from %s, want %d bytes from [%s]:%d", i, len(p.data), p.from, len(want), testSrcVTEP, Port)
		}
	}
	drops := w.Drops()
	for reason := WGDropNotIPv6; reason < numWGDropReasons; reason++ {
		if drops[reason.String()] != 1 {
			t.Errorf("drops[%s] = %d, want 1", reason, drops[reason.String()])
		}
	}
	if st := w.Stats(); st.PacketsReceived != 4 || st.Dropped != uint64(numWGDropReasons-1) {
		t.Errorf("Stats = %+v, want 4 received, %d dropped", st, numWGDropReasons-1)
	}

	// A Write larger than the batch is still delivered whole.
	rec.reset()
	var many [][]byte
	for i := range 40 {
		many = append(many, good(i))
	}
	w.deliver(many, off)
	if got := len(rec.snapshot()); got != 40 {
		t.Errorf("a 40-packet Write with batch 16 delivered %d packets", got)
	}
}
