package encap

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"meshnet.dev/meshnet/internal/testenv"
)

// wgCounter counts delivered packets and wakes a waiter.
type wgCounter struct {
	n      atomic.Uint64
	notify chan struct{}
}

func (r *wgCounter) Receive(bufs [][]byte, _ []int, _ int, _ []netip.AddrPort) {
	r.n.Add(uint64(len(bufs)))
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// wgBenchPair is a sender and a counting receiver with a session.
type wgBenchPair struct {
	tx, rx *WireGuard
	count  *wgCounter
	dst    netip.AddrPort
}

func newWGBenchPair(tb testing.TB, noOffload bool) *wgBenchPair {
	tb.Helper()
	cfg := func(c *WireGuardConfig) { c.DisableOffload = noOffload }
	count := &wgCounter{notify: make(chan struct{}, 1)}
	a, b := newWGNode(tb, cfg), newWGNodeReceiving(tb, cfg, count)
	a.setPeers(b.peer(nil))
	b.setPeers(a.peer(nil))
	return &wgBenchPair{tx: a.w, rx: b.w, count: count, dst: b.from()}
}

// sendWindowed sends bufs and then waits until no more than window packets
// are in flight, so nothing is lost to full socket buffers.
func (p *wgBenchPair) sendWindowed(tb testing.TB, bufs [][]byte, sent *uint64, window uint64, stall *time.Timer) {
	if err := p.tx.Send(bufs, Headroom, p.dst); err != nil {
		tb.Fatal(err)
	}
	*sent += uint64(len(bufs))
	for *sent-p.count.n.Load() > window {
		stall.Reset(5 * time.Second)
		select {
		case <-p.count.notify:
		case <-stall.C:
			tb.Fatalf("receiver stalled: %d sent, %d received", *sent, p.count.n.Load())
		}
	}
}

func benchBatch(batch, size int) [][]byte {
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, Headroom+size, MaxPacket)
		Encode(bufs[i][Headroom:], 42)
		fillPacket(bufs[i][Headroom:], 42, i)
	}
	return bufs
}

// TestWireGuardSendAllocs checks Send: the checks, the hand-over and
// building the headers in the reader's buffers. The reader here stands in
// for wireguard-go's (whose own buffer pool is its business: see the
// benchmark).
func TestWireGuardSendAllocs(t *testing.T) {
	testenv.SkipAllocsUnderRace(t)
	const batch = 128
	w := bareWireGuard(testSrcVTEP, batch)
	w.vteps.Store(&map[netip.Addr]struct{}{testDstVTEP: {}})
	w.tun = newWGTUN("", defaultTunnelMTU, batch, w.deliver, nil)
	var read atomic.Uint64
	done := make(chan struct{})
	go func() { // wireguard-go's TUN reader, minus the rest of wireguard-go
		defer close(done)
		bufs, sizes := make([][]byte, batch), make([]int, batch)
		for i := range bufs {
			bufs[i] = make([]byte, 1<<16-1)
		}
		for {
			n, err := w.tun.Read(bufs, sizes, 16)
			if err != nil {
				return
			}
			for _, size := range sizes[:n] {
				if size != tunnelHeaderLen+1400 {
					t.Errorf("read a %d-byte packet, want %d", size, tunnelHeaderLen+1400)
				}
			}
			read.Add(uint64(n))
		}
	}()
	stop := sync.OnceFunc(func() { w.tun.Close(); <-done })
	defer stop()

	bufs := benchBatch(64, 1400)
	dst := netip.AddrPortFrom(testDstVTEP, Port)
	allocs := testing.AllocsPerRun(200, func() {
		if err := w.Send(bufs, Headroom, dst); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Send of 64 packets allocates %v times per call, want 0", allocs)
	}
	stop()
	if got := read.Load(); got != 201*64 {
		t.Errorf("the reader got %d packets, want %d", got, 201*64)
	}
}

// TestWireGuardReceiveAllocs checks the receive path this package owns:
// parsing what wireguard-go decrypted and delivering it.
func TestWireGuardReceiveAllocs(t *testing.T) {
	testenv.SkipAllocsUnderRace(t)
	const off = wgReceiveOffset - tunnelHeaderLen
	w := bareWireGuard(testDstVTEP, 128)
	var r Receiver = &wgCounter{notify: make(chan struct{}, 1)}
	w.receiver.Store(&r)
	bufs := make([][]byte, 128)
	for i := range bufs {
		bufs[i] = decrypted(benchBatch(1, 1400)[0][Headroom:], testSrcVTEP, testDstVTEP, nil)
	}
	allocs := testing.AllocsPerRun(200, func() { w.deliver(bufs, off) })
	if allocs != 0 {
		t.Errorf("delivering 128 packets allocates %v times, want 0", allocs)
	}
}

// BenchmarkWireGuardSendReceive moves batches of 64 packets of 1400 bytes
// through Send, encryption, loopback UDP, decryption and Receive, keeping
// a few batches in flight; compare with BenchmarkPlainSendReceive.
func BenchmarkWireGuardSendReceive(b *testing.B) {
	for _, tc := range []struct {
		name      string
		noOffload bool
	}{{"offload", false}, {"no-offload", true}} {
		b.Run(tc.name, func(b *testing.B) {
			const batch, size, window = 64, 1400, 4 * 64
			p := newWGBenchPair(b, tc.noOffload)
			bufs := benchBatch(batch, size)
			stall := time.NewTimer(time.Hour)
			defer stall.Stop()
			var sent uint64
			p.sendWindowed(b, bufs, &sent, 0, stall) // handshake outside the timing
			b.SetBytes(batch * size)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				p.sendWindowed(b, bufs, &sent, window, stall)
			}
		})
	}
}
