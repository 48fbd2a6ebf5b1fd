package encap

import (
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"meshnet.dev/meshnet/internal/testenv"
)

// udpSink is a socket nobody reads: a destination whose receive path
// allocates nothing in this process, so AllocsPerRun sees only the sender.
func udpSink(t testing.TB, network, addr string) netip.AddrPort {
	t.Helper()
	c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

func TestPlainSendAllocs(t *testing.T) {
	testenv.SkipAllocsUnderRace(t)
	for _, tc := range []struct {
		name      string
		network   string
		addr      string
		noOffload bool
	}{
		{"ipv4", "udp4", "127.0.0.1:0", false},
		{"ipv6", "udp6", "[::1]:0", false},
		{"ipv4-no-offload", "udp4", "127.0.0.1:0", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestPlain(t, PlainConfig{DisableOffload: tc.noOffload})
			dst := udpSink(t, tc.network, tc.addr)
			bufs := makeBatch(1, 64)
			allocs := testing.AllocsPerRun(200, func() {
				if err := p.Send(bufs, Headroom, dst); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Fatalf("Send of 64 packets allocates %v times per call, want 0", allocs)
			}
		})
	}
}

// countingReceiver counts packets and wakes a waiter.
type countingReceiver struct {
	n      atomic.Uint64
	notify chan struct{}
}

func (r *countingReceiver) Receive(bufs [][]byte, _ []int, _ int, _ []netip.AddrPort) {
	r.n.Add(uint64(len(bufs)))
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// BenchmarkPlainSendReceive moves batches of 64 packets of 1400 bytes over
// loopback and counts them at the receiver. The sender keeps at most a few
// batches in flight so the socket buffer never overflows.
func BenchmarkPlainSendReceive(b *testing.B) {
	for _, tc := range []struct {
		name      string
		noOffload bool
	}{{"offload", false}, {"no-offload", true}} {
		b.Run(tc.name, func(b *testing.B) {
			const batch, size, window = 64, 1400, 4 * 64
			tx, err := NewPlain(PlainConfig{EphemeralPort: true, DisableOffload: tc.noOffload})
			if err != nil {
				b.Fatal(err)
			}
			defer tx.Close()
			rx, err := NewPlain(PlainConfig{EphemeralPort: true, DisableOffload: tc.noOffload})
			if err != nil {
				b.Fatal(err)
			}
			defer rx.Close()
			r := &countingReceiver{notify: make(chan struct{}, 1)}
			if err := rx.Start(r); err != nil {
				b.Fatal(err)
			}
			dst := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), rx.LocalPort())
			bufs := make([][]byte, batch)
			for i := range bufs {
				bufs[i] = make([]byte, Headroom+size, MaxPacket)
				Encode(bufs[i][Headroom:], 42)
			}
			stall := time.NewTimer(time.Hour)
			defer stall.Stop()
			b.SetBytes(batch * size)
			b.ReportAllocs()
			var sent uint64
			for b.Loop() {
				if err := tx.Send(bufs, Headroom, dst); err != nil {
					b.Fatal(err)
				}
				sent += batch
				for sent-r.n.Load() > window {
					stall.Reset(5 * time.Second)
					select {
					case <-r.notify:
					case <-stall.C:
						b.Fatalf("receiver stalled: %d sent, %d received", sent, r.n.Load())
					}
				}
			}
		})
	}
}
