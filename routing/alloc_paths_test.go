package routing

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"
	"testing"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/internal/packet"
	"meshnet.dev/meshnet/internal/testenv"
	"meshnet.dev/meshnet/lb"
)

// Allocation guards for each step of the data path that runs per packet:
// table lookups, forwarding with the service balancer hooked in (frames to
// a VIP and past it), and delivery of verified frames. Each is 0
// allocations per packet in steady state; routing's own encap/forward/
// decap round trip is TestForwardPathDoesNotAllocate.

// authDev is a countDev that also takes verified writes.
type authDev struct {
	countDev
	verified atomic.Uint64
}

func (d *authDev) WriteVerified(bufs [][]byte, _ int) (int, error) {
	d.verified.Add(uint64(len(bufs)))
	return len(bufs), nil
}

// putTCP4 writes an Ethernet/IPv4/TCP frame of n bytes from 10.0.0.1:sport
// to dst:80 into f and returns it.
func putTCP4(f []byte, dstMAC, srcMAC packet.MAC, dst netip.Addr, sport uint16, n int) []byte {
	f = f[:n]
	clear(f)
	packet.PutEthHeader(f, dstMAC, srcMAC, packet.EtherTypeIPv4)
	ip := f[packet.EthHeaderLen:]
	ip[0], ip[8], ip[9] = 0x45, 64, 6
	binary.BigEndian.PutUint16(ip[2:4], uint16(n-packet.EthHeaderLen))
	copy(ip[12:16], []byte{10, 0, 0, 1})
	d := dst.As4()
	copy(ip[16:20], d[:])
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:2], sport)
	binary.BigEndian.PutUint16(tcp[2:4], 80)
	tcp[12], tcp[13] = 5<<4, 0x10 // ACK
	return f
}

func TestTableLookupsDoNotAllocate(t *testing.T) {
	testenv.SkipAllocsUnderRace(t)
	tb := NewTable()
	under := netip.MustParseAddrPort("192.0.2.2:4789")
	vtep := netip.MustParseAddrPort("[fd00::2]:4789")
	mac := packet.MAC{2, 0, 0, 0, 0, 2}
	ip := netip.MustParseAddr("10.0.0.2")
	tb.Update(func(tx *Tx) {
		tx.SetNetwork(NetworkConfig{Name: "n", VNI: 5, Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}})
		tx.SetPeer(PeerConfig{Name: "b", Underlay: under, VTEP: vtep})
		tx.SetMember(5, "b", true)
		tx.SetEndpoint(5, Endpoint{MAC: mac, IP: ip, Node: "b"})
	})
	allocs := testing.AllocsPerRun(1000, func() {
		s := tb.Snapshot()
		n := s.Network(5)
		p, local, ok := n.LookupMAC(mac)
		m, _, ok2 := n.LookupIP(ip)
		if !ok || local || !ok2 || m != mac || !n.IsMember(p) ||
			s.PeerByUnderlay(under.Addr()) != p || s.PeerByVTEP(vtep.Addr()) != p {
			t.Fatal("lookups failed")
		}
	})
	if allocs != 0 {
		t.Fatalf("a snapshot and five lookups allocated %.1f times", allocs)
	}
}

// TestForwardPathWithBalancerDoesNotAllocate runs the forward path with the
// real service balancer hooked in and a service configured: frames past the
// VIP (one map lookup in the balancer) and frames to it (DNAT of a tracked
// flow) cost no allocation.
func TestForwardPathWithBalancerDoesNotAllocate(t *testing.T) {
	testenv.SkipAllocsUnderRace(t)
	pa, devB := forwardPair(t, 1400)
	b, err := lb.NewBalancer(func() lb.BalancerConfig {
		c := lb.DefaultBalancerConfig()
		c.MACs = pa.f.cfg.Table
		return c
	}())
	if err != nil {
		t.Fatal(err)
	}
	vip := netip.MustParseAddr("10.0.0.100")
	err = b.Update([]lb.Service{{Name: "web", Network: "n", VNI: 5, VIP: vip, Ports: []lb.PortSpec{{Port: 80, Proto: lb.ProtoTCP}}, Mode: lb.ModeVIP}},
		[]lb.Backend{{Service: "web", Addr: netip.MustParseAddrPort("10.0.0.2:80"), Node: "b", Healthy: true}})
	if err != nil {
		t.Fatal(err)
	}
	pa.f.cfg.Hook = b
	macA, macB := packet.MAC{2, 0, 0, 0, 0, 1}, packet.MAC{2, 0, 0, 0, 0, 2}
	for _, tc := range []struct {
		name string
		dst  netip.Addr
		mac  packet.MAC
	}{{"past the VIP", netip.MustParseAddr("10.0.0.2"), macB}, {"to the VIP", vip, lb.ServiceMAC(5)}} {
		fill := func() {
			for i := range pa.bufs {
				putTCP4(pa.bufs[i][encap.Headroom:], tc.mac, macA, tc.dst, uint16(40000+i%8), 1400)
			}
		}
		fill()
		pa.forwardBatch() // flows are tracked from here on
		before := devB.written.Load()
		allocs := testing.AllocsPerRun(100, func() {
			fill()
			pa.forwardBatch()
		})
		if allocs != 0 {
			t.Errorf("%s: forwarding a batch allocated %.1f times", tc.name, allocs)
		}
		if devB.written.Load() == before {
			t.Errorf("%s: nothing reached the backend's device", tc.name)
		}
	}
	if b.Stats().DNATed == 0 {
		t.Fatal("no frame was translated: the VIP case did not exercise the balancer")
	}
}

// TestSecureInboundDoesNotAllocate delivers frames of an encrypted network
// from the secure transport: they take the verified write, and cost
// no allocation.
func TestSecureInboundDoesNotAllocate(t *testing.T) {
	testenv.SkipAllocsUnderRace(t)
	macA, macB := packet.MAC{2, 0, 0, 0, 0, 1}, packet.MAC{2, 0, 0, 0, 0, 2}
	vtepA := netip.MustParseAddrPort("[fd00::1]:4789")
	tb := NewTable()
	tb.Update(func(tx *Tx) {
		tx.SetNetwork(NetworkConfig{Name: "n", VNI: 5, Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}, Encrypted: true})
		tx.SetPeer(PeerConfig{Name: "a", VTEP: vtepA})
		tx.SetMember(5, "a", true)
		tx.SetEndpoint(5, Endpoint{MAC: macB, IP: netip.MustParseAddr("10.0.0.2")})
		tx.SetEndpoint(5, Endpoint{MAC: macA, IP: netip.MustParseAddr("10.0.0.1"), Node: "a"})
	})
	f := New(Config{Table: tb})
	dev := &authDev{countDev: countDev{mac: macB}}
	if _, err := f.Attach(5, dev); err != nil {
		t.Fatal(err)
	}
	const n, off = 64, 64
	bufs, sizes, from := make([][]byte, n), make([]int, n), make([]netip.AddrPort, n)
	for i := range bufs {
		bufs[i] = make([]byte, off+encap.HeaderLen+1400)
		encap.Encode(bufs[i][off:], 5)
		putTCP4(bufs[i][off+encap.HeaderLen:], macB, macA, netip.MustParseAddr("10.0.0.2"), 40000, 1400)
		sizes[i], from[i] = encap.HeaderLen+1400, vtepA
	}
	recv := f.SecureReceiver()
	recv.Receive(bufs, sizes, off, from)
	allocs := testing.AllocsPerRun(100, func() { recv.Receive(bufs, sizes, off, from) })
	if allocs != 0 {
		t.Fatalf("delivering a batch allocated %.1f times", allocs)
	}
	if dev.verified.Load() == 0 || dev.written.Load() != 0 {
		t.Fatalf("verified writes %d, plain writes %d: want only verified", dev.verified.Load(), dev.written.Load())
	}
}

// TestPlainInboundVerifiedOnlyFromMeshnetPeers: frames a meshnet node sent
// over the plain transport (it always sets the UDP checksum, which the
// kernel checked) skip a second verification; frames from a static VXLAN
// peer, which may send none, do not.
func TestPlainInboundVerifiedOnlyFromMeshnetPeers(t *testing.T) {
	macB := packet.MAC{2, 0, 0, 0, 0, 2}
	node, static := netip.MustParseAddrPort("192.0.2.1:4789"), netip.MustParseAddrPort("192.0.2.9:4789")
	tb := NewTable()
	tb.Update(func(tx *Tx) {
		tx.SetNetwork(NetworkConfig{Name: "n", VNI: 5, Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}})
		tx.SetPeer(PeerConfig{Name: "a", Underlay: node, VTEP: netip.MustParseAddrPort("[fd00::1]:4789")})
		tx.SetPeer(PeerConfig{Name: "kernel", Underlay: static})
		tx.SetMember(5, "a", true)
		tx.SetMember(5, "kernel", true)
		tx.SetEndpoint(5, Endpoint{MAC: macB, IP: netip.MustParseAddr("10.0.0.2")})
	})
	for _, verify := range []bool{false, true} {
		f := New(Config{Table: tb, VerifyInnerChecksums: verify})
		dev := &authDev{countDev: countDev{mac: macB}}
		if _, err := f.Attach(5, dev); err != nil {
			t.Fatal(err)
		}
		const off = 64
		bufs, sizes, from := make([][]byte, 4), make([]int, 4), []netip.AddrPort{node, node, static, node}
		for i := range bufs {
			bufs[i] = make([]byte, off+encap.HeaderLen+200)
			encap.Encode(bufs[i][off:], 5)
			putTCP4(bufs[i][off+encap.HeaderLen:], macB, packet.MAC{2, 0, 0, 0, 0, 1}, netip.MustParseAddr("10.0.0.2"), 40000, 200)
			sizes[i] = encap.HeaderLen + 200
		}
		f.PlainReceiver().Receive(bufs, sizes, off, from)
		wantVerified, wantPlain := uint64(3), uint64(1)
		if verify {
			wantVerified, wantPlain = 0, 4
		}
		if v, w := dev.verified.Load(), dev.written.Load(); v != wantVerified || w != wantPlain {
			t.Errorf("VerifyInnerChecksums=%t: %d verified and %d plain writes, want %d and %d", verify, v, w, wantVerified, wantPlain)
		}
	}
}
