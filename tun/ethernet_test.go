package tun

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"meshnet.dev/meshnet/internal/packet"
	"meshnet.dev/meshnet/internal/testenv"
)

// mapNeighbors is a Neighbors backed by a map; lookups do not allocate.
type mapNeighbors map[netip.Addr]packet.MAC

func (m mapNeighbors) LookupMAC(ip netip.Addr) (packet.MAC, bool) {
	mac, ok := m[ip]
	return mac, ok
}

var (
	testOwnMAC  = packet.MAC{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
	testPeerMAC = packet.MAC{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}
)

// ipv4Packet returns a minimal IPv4 header (plus payload) to dst.
func ipv4Packet(dst netip.Addr, payload int) []byte {
	p := make([]byte, packet.IPv4MinHeaderLen+payload)
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:4], uint16(len(p)))
	p[8], p[9] = 64, 17
	copy(p[12:16], []byte{10, 1, 0, 1})
	d := dst.As4()
	copy(p[16:20], d[:])
	return p
}

// ipv6Packet returns a minimal IPv6 header (plus payload) to dst.
func ipv6Packet(dst netip.Addr, payload int) []byte {
	p := make([]byte, packet.IPv6HeaderLen+payload)
	p[0] = 0x60
	binary.BigEndian.PutUint16(p[4:6], uint16(payload))
	p[6], p[7] = 17, 64
	d := dst.As16()
	copy(p[24:40], d[:])
	return p
}

// ethFrame wraps pkt in an Ethernet header.
func ethFrame(dst, src packet.MAC, etype uint16, pkt []byte) []byte {
	f := make([]byte, packet.EthHeaderLen, packet.EthHeaderLen+len(pkt))
	copy(f[0:6], dst[:])
	copy(f[6:12], src[:])
	binary.BigEndian.PutUint16(f[12:14], etype)
	return append(f, pkt...)
}

func testFramer() l3Framer {
	nb := mapNeighbors{
		netip.MustParseAddr("10.1.0.2"):  testPeerMAC,
		netip.MustParseAddr("fd00::2"):   testPeerMAC,
		netip.MustParseAddr("10.2.0.33"): {0x02, 0, 0, 0, 0, 0x33},
	}
	return newL3Framer(testOwnMAC, nb, []netip.Prefix{
		netip.MustParsePrefix("10.1.0.1/24"),
		netip.MustParsePrefix("10.3.0.1/31"), // no broadcast in a /31
		netip.MustParsePrefix("10.4.0.1/32"),
		netip.MustParsePrefix("fd00::1/64"),
	})
}

func TestFrameAddressesByDestination(t *testing.T) {
	bcast := packet.BroadcastMAC()
	tests := []struct {
		name    string
		pkt     []byte
		wantDst packet.MAC
		etype   uint16
	}{
		{"v4 known neighbour", ipv4Packet(netip.MustParseAddr("10.1.0.2"), 8), testPeerMAC, packet.EtherTypeIPv4},
		{"v4 neighbour off-subnet", ipv4Packet(netip.MustParseAddr("10.2.0.33"), 0), packet.MAC{0x02, 0, 0, 0, 0, 0x33}, packet.EtherTypeIPv4},
		{"v4 unknown neighbour", ipv4Packet(netip.MustParseAddr("10.1.0.77"), 8), packet.MAC{}, packet.EtherTypeIPv4},
		{"v4 limited broadcast", ipv4Packet(netip.MustParseAddr("255.255.255.255"), 8), bcast, packet.EtherTypeIPv4},
		{"v4 subnet broadcast", ipv4Packet(netip.MustParseAddr("10.1.0.255"), 8), bcast, packet.EtherTypeIPv4},
		{"v4 /31 has no broadcast", ipv4Packet(netip.MustParseAddr("10.3.0.1"), 8), packet.MAC{}, packet.EtherTypeIPv4},
		{"v4 /32 has no broadcast", ipv4Packet(netip.MustParseAddr("10.4.0.1"), 8), packet.MAC{}, packet.EtherTypeIPv4},
		{"v4 multicast", ipv4Packet(netip.MustParseAddr("239.1.2.3"), 8), packet.MAC{0x01, 0x00, 0x5e, 0x01, 0x02, 0x03}, packet.EtherTypeIPv4},
		{"v4 multicast high bit masked", ipv4Packet(netip.MustParseAddr("224.129.2.3"), 8), packet.MAC{0x01, 0x00, 0x5e, 0x01, 0x02, 0x03}, packet.EtherTypeIPv4},
		{"v6 known neighbour", ipv6Packet(netip.MustParseAddr("fd00::2"), 8), testPeerMAC, packet.EtherTypeIPv6},
		{"v6 unknown neighbour", ipv6Packet(netip.MustParseAddr("fd00::9"), 8), packet.MAC{}, packet.EtherTypeIPv6},
		{"v6 all-nodes multicast", ipv6Packet(netip.MustParseAddr("ff02::1"), 8), packet.MAC{0x33, 0x33, 0, 0, 0, 1}, packet.EtherTypeIPv6},
		{"v6 solicited-node multicast", ipv6Packet(netip.MustParseAddr("ff02::1:ff00:1234"), 0), packet.MAC{0x33, 0x33, 0xff, 0x00, 0x12, 0x34}, packet.EtherTypeIPv6},
	}
	f := testFramer()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := append(make([]byte, packet.EthHeaderLen), tt.pkt...)
			if r := f.frame(b); r != DropNone {
				t.Fatalf("frame = %v, want accepted", r)
			}
			if got := packet.MAC(b[0:6]); got != tt.wantDst {
				t.Errorf("dst = %s, want %s", formatMAC(got), formatMAC(tt.wantDst))
			}
			if got := packet.MAC(b[6:12]); got != testOwnMAC {
				t.Errorf("src = %s, want %s", formatMAC(got), formatMAC(testOwnMAC))
			}
			if got := binary.BigEndian.Uint16(b[12:14]); got != tt.etype {
				t.Errorf("EtherType = %#04x, want %#04x", got, tt.etype)
			}
		})
	}
}

func TestFrameRejectsNonIP(t *testing.T) {
	f := testFramer()
	for name, pkt := range map[string][]byte{
		"empty":       {},
		"version 5":   append([]byte{0x50}, make([]byte, 40)...),
		"short v4":    ipv4Packet(netip.MustParseAddr("10.1.0.2"), 0)[:19],
		"short v6":    ipv6Packet(netip.MustParseAddr("fd00::2"), 0)[:39],
		"version 0":   make([]byte, 60),
		"only a byte": {0x45},
	} {
		b := append(make([]byte, packet.EthHeaderLen), pkt...)
		if r := f.frame(b); r != DropNotIP {
			t.Errorf("%s: frame = %v, want %v", name, r, DropNotIP)
		}
	}
}

func TestClassifyFrame(t *testing.T) {
	v4 := ipv4Packet(netip.MustParseAddr("10.1.0.1"), 8)
	v6 := ipv6Packet(netip.MustParseAddr("fd00::1"), 8)
	tests := []struct {
		name  string
		frame []byte
		want  DropReason
	}{
		{"v4 to own MAC", ethFrame(testOwnMAC, testPeerMAC, packet.EtherTypeIPv4, v4), DropNone},
		{"v6 to own MAC", ethFrame(testOwnMAC, testPeerMAC, packet.EtherTypeIPv6, v6), DropNone},
		{"v4 broadcast", ethFrame(packet.BroadcastMAC(), testPeerMAC, packet.EtherTypeIPv4, v4), DropNone},
		{"v4 multicast", ethFrame(packet.MAC{1, 0, 0x5e, 1, 2, 3}, testPeerMAC, packet.EtherTypeIPv4, v4), DropNone},
		{"v6 multicast", ethFrame(packet.MAC{0x33, 0x33, 0, 0, 0, 1}, testPeerMAC, packet.EtherTypeIPv6, v6), DropNone},
		{"empty", nil, DropRunt},
		{"header cut short", ethFrame(testOwnMAC, testPeerMAC, packet.EtherTypeIPv4, nil)[:13], DropRunt},
		{"header only", ethFrame(testOwnMAC, testPeerMAC, packet.EtherTypeIPv4, nil), DropRunt},
		{"v4 header cut short", ethFrame(testOwnMAC, testPeerMAC, packet.EtherTypeIPv4, v4[:19]), DropRunt},
		{"v6 header cut short", ethFrame(testOwnMAC, testPeerMAC, packet.EtherTypeIPv6, v6[:39]), DropRunt},
		{"ARP", ethFrame(packet.BroadcastMAC(), testPeerMAC, packet.EtherTypeARP, make([]byte, 28)), DropARP},
		{"VLAN tagged", ethFrame(testOwnMAC, testPeerMAC, 0x8100, v4), DropEtherType},
		{"other EtherType", ethFrame(testOwnMAC, testPeerMAC, 0x88cc, v4), DropEtherType},
		{"unicast to another MAC", ethFrame(testPeerMAC, testOwnMAC, packet.EtherTypeIPv4, v4), DropDstMAC},
		{"zero dst MAC", ethFrame(packet.MAC{}, testPeerMAC, packet.EtherTypeIPv4, v4), DropDstMAC},
		{"v6 in an IPv4 EtherType", ethFrame(testOwnMAC, testPeerMAC, packet.EtherTypeIPv4, v6), DropIPVersion},
		{"v4 in an IPv6 EtherType", ethFrame(testOwnMAC, testPeerMAC, packet.EtherTypeIPv6, append(v4, make([]byte, 40)...)), DropIPVersion},
	}
	for _, tt := range tests {
		if got := classifyFrame(tt.frame, testOwnMAC); got != tt.want {
			t.Errorf("%s: classifyFrame = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestDropReasonLabelsAreDistinct(t *testing.T) {
	seen := map[string]DropReason{}
	for r := DropNone; r < numDropReasons; r++ {
		s := r.String()
		if prev, dup := seen[s]; dup || s == "unknown" {
			t.Errorf("reason %d has label %q (also reason %d)", r, s, prev)
		}
		seen[s] = r
	}
	if got := numDropReasons.String(); got != "unknown" {
		t.Errorf("out-of-range reason label = %q", got)
	}
	var c dropCounters
	c.add(DropARP, 2)
	snap := c.snapshot()
	if len(snap) != int(numDropReasons)-1 || snap["arp"] != 2 || snap["runt"] != 0 {
		t.Errorf("snapshot = %v", snap)
	}
}

func TestFrameAndClassifyDoNotAllocate(t *testing.T) {
	testenv.SkipAllocsUnderRace(t)
	f := testFramer()
	pkts := [][]byte{
		ipv4Packet(netip.MustParseAddr("10.1.0.2"), 100),
		ipv4Packet(netip.MustParseAddr("10.1.0.255"), 100),
		ipv4Packet(netip.MustParseAddr("239.1.2.3"), 100),
		ipv6Packet(netip.MustParseAddr("fd00::2"), 100),
		ipv6Packet(netip.MustParseAddr("ff02::1"), 100),
	}
	bufs := make([][]byte, len(pkts))
	for i, p := range pkts {
		bufs[i] = append(make([]byte, packet.EthHeaderLen), p...)
	}
	allocs := testing.AllocsPerRun(500, func() {
		for _, b := range bufs {
			if f.frame(b) != DropNone {
				t.Fatal("frame dropped a valid packet")
			}
			copy(b[0:6], testOwnMAC[:]) // make it a frame addressed to us
			if classifyFrame(b, testOwnMAC) != DropNone {
				t.Fatal("classifyFrame dropped a valid frame")
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("frame+classify allocate %.1f times per batch, want 0", allocs)
	}
}

func BenchmarkFrameIPv4(b *testing.B) {
	f := testFramer()
	buf := append(make([]byte, packet.EthHeaderLen), ipv4Packet(netip.MustParseAddr("10.1.0.2"), 1380)...)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		f.frame(buf)
	}
}

func BenchmarkFrameIPv6(b *testing.B) {
	f := testFramer()
	buf := append(make([]byte, packet.EthHeaderLen), ipv6Packet(netip.MustParseAddr("fd00::2"), 1360)...)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		f.frame(buf)
	}
}

func BenchmarkClassifyFrame(b *testing.B) {
	frame := ethFrame(testOwnMAC, testPeerMAC, packet.EtherTypeIPv4, ipv4Packet(netip.MustParseAddr("10.1.0.1"), 1380))
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		classifyFrame(frame, testOwnMAC)
	}
}
