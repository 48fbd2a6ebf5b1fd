package lb

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"meshnet.dev/meshnet/internal/packet"
	"meshnet.dev/meshnet/internal/testenv"
)

// allocFrames prepares a client frame template and a reply template for
// the alloc tests and benchmarks.
func allocFrames(tb testing.TB, e *lbEnv) (out, reply []byte, backend netip.AddrPort) {
	tb.Helper()
	e.update([]Service{webService(e.vni)}, e.backends("web", "10.7.0.11:0", "10.7.0.12:0", "10.7.0.13:0"))
	client := netip.AddrPortFrom(e.client, 40000)
	out = buildFrame(ServiceMAC(e.vni), clientMAC, buildIP(tb, ProtoTCP, client, netip.MustParseAddrPort("10.7.0.100:80"), pktOpts{tcpFlags: tcpACK, payload: make([]byte, 64)}))
	_, _, p := e.out(ProtoTCP, client, netip.MustParseAddrPort("10.7.0.100:80"), pktOpts{tcpFlags: tcpACK})
	reply = buildFrame(clientMAC, backendMAC(p.dst.Addr()), buildIP(tb, ProtoTCP, p.dst, client, pktOpts{tcpFlags: tcpACK, payload: make([]byte, 64)}))
	return out, reply, p.dst
}

// setSrcPort changes a TCP/IPv4 frame's source port (checksums are not
// fixed; the balancer does not verify them).
func setSrcPort(f []byte, port uint16) {
	binary.BigEndian.PutUint16(f[packet.EthHeaderLen+packet.IPv4MinHeaderLen:], port)
}

func TestBalancerAllocs(t *testing.T) {
	testenv.SkipAllocsUnderRace(t)
	e := newLBEnv(t, DefaultConntrackSize)
	tmpl, reply, _ := allocFrames(t, e)
	f := make([]byte, len(tmpl))

	t.Run("outbound existing flow", func(t *testing.T) {
		n := testing.AllocsPerRun(1000, func() {
			copy(f, tmpl)
			if e.b.Outbound(e.vni, f) != packet.Pass {
				t.Fatal("dropped")
			}
		})
		if n != 0 {
			t.Errorf("%v allocations per packet, want 0", n)
		}
	})
	t.Run("outbound new flow", func(t *testing.T) {
		port := uint16(1000)
		n := testing.AllocsPerRun(1000, func() {
			port++
			copy(f, tmpl)
			setSrcPort(f, port)
			if e.b.Outbound(e.vni, f) != packet.Pass {
				t.Fatal("dropped")
			}
		})
		if n != 0 {
			t.Errorf("%v allocations per new flow, want 0", n)
		}
		if flows := e.b.Stats().Flows; flows < 1000 {
			t.Fatalf("only %d flows tracked: the runs were not new flows", flows)
		}
	})
	t.Run("inbound reply", func(t *testing.T) {
		g := make([]byte, len(reply))
		before := e.b.Stats().SNATed
		n := testing.AllocsPerRun(1000, func() {
			copy(g, reply)
			e.b.Inbound(e.vni, g)
		})
		if n != 0 {
			t.Errorf("%v allocations per reply, want 0", n)
		}
		if e.b.Stats().SNATed-before < 1000 {
			t.Fatal("replies were not translated")
		}
	})
	t.Run("not a vip", func(t *testing.T) {
		other := buildFrame(clientMAC, clientMAC, buildIP(t, ProtoTCP, netip.AddrPortFrom(e.client, 1), netip.MustParseAddrPort("10.7.0.50:80"), pktOpts{}))
		n := testing.AllocsPerRun(1000, func() {
			e.b.Outbound(e.vni, other)
			e.b.Inbound(e.vni, other)
		})
		if n != 0 {
			t.Errorf("%v allocations per pass-through frame, want 0", n)
		}
	})
}

func BenchmarkBalancer(b *testing.B) {
	e := newLBEnv(b, DefaultConntrackSize)
	tmpl, reply, _ := allocFrames(b, e)
	f := make([]byte, len(tmpl))
	b.Run("outbound-existing", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(tmpl)))
		for b.Loop() {
			copy(f, tmpl)
			e.b.Outbound(e.vni, f)
		}
	})
	b.Run("outbound-new", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(tmpl)))
		port := uint16(0)
		for b.Loop() {
			port++
			copy(f, tmpl)
			setSrcPort(f, port)
			e.b.Outbound(e.vni, f)
		}
	})
	b.Run("inbound", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(reply)))
		for b.Loop() {
			copy(f, reply)
			e.b.Inbound(e.vni, f[:len(reply)])
		}
	})
	b.Run("passthrough", func(b *testing.B) {
		other := buildFrame(clientMAC, clientMAC, buildIP(b, ProtoTCP, netip.AddrPortFrom(e.client, 1), netip.MustParseAddrPort("10.7.0.50:80"), pktOpts{}))
		b.ReportAllocs()
		for b.Loop() {
			e.b.Outbound(e.vni, other)
			e.b.Inbound(e.vni, other)
		}
	})
}
