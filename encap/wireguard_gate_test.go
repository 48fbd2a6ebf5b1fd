package encap

import (
	"strings"
	"testing"
	"time"
)

func dataMsg(n int) []byte {
	b := make([]byte, n)
	b[0] = wgTransportType
	return b
}

func TestGateCountsDataOnly(t *testing.T) {
	g := newFlightGate(10)
	bufs := [][]byte{dataMsg(100), dataMsg(wgKeepaliveLen), {1, 0, 0, 0}, dataMsg(1500)}
	sizes := []int{100, wgKeepaliveLen, 148, 1500}
	if got := dataMessagesOut([][]byte{bufs[0], bufs[1], bufs[2][:4], bufs[3]}); got != 2 {
		t.Fatalf("%d data messages on the way out, want 2", got)
	}
	g.entered(dataMessages(bufs, sizes, len(bufs)))
	if got := g.inflight.Load(); got != 2 {
		t.Fatalf("in flight %d after two data messages, a keepalive and a handshake; want 2", got)
	}
	g.delivered(5)
	if got := g.inflight.Load(); got != 0 {
		t.Fatalf("in flight %d after delivering more than counted; want 0", got)
	}
}

// TestGateWaits: a reader over the limit waits for a delivery; without
// one, the valve lets it go and the count starts afresh; closing releases
// it at once.
func TestGateWaits(t *testing.T) {
	g := newFlightGate(1)
	g.inflight.Store(5)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	done := make(chan struct{})
	go func() { g.wait(timer, nil); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("wait did not end: the valve never opened")
	}
	if got := g.inflight.Load(); got != 0 {
		t.Fatalf("in flight %d after the valve, want 0", got)
	}

	g.inflight.Store(2)
	done = make(chan struct{})
	start := time.Now()
	go func() { g.wait(timer, nil); close(done) }()
	g.delivered(1) // down to the limit
	<-done
	if el := time.Since(start); el > gateValve*5 {
		t.Logf("a delivery took %s to release the reader", el) // noisy machines; the valve bounds it anyway
	}

	g.inflight.Store(100)
	closed := make(chan struct{})
	close(closed)
	g.wait(timer, closed) // returns at once
}

// TestWireGuardBoundsDeliver: send and receive bounds far below a batch
// still deliver everything, both ways.
func TestWireGuardBoundsDeliver(t *testing.T) {
	small := func(c *WireGuardConfig) { c.MaxReceiveInFlight, c.MaxSendInFlight = 4, 3 }
	a, b := newWGNode(t, small), newWGNode(t, small)
	connect(t, a, b)
	for range 5 {
		sendAndCheck(t, a, b, 7, a.w.BatchSize())
		sendAndCheck(t, b, a, 7, b.w.BatchSize())
	}
	if b.w.rxGate == nil || b.w.rxGate.limit != 4 || a.w.tun.tx == nil || a.w.tun.tx.limit != 3 {
		t.Fatal("the bounds were not applied")
	}
	if got := a.w.tun.tx.inflight.Load(); got > 3 {
		t.Errorf("%d packets still counted in the send stage after everything arrived", got)
	}
}

func TestWireGuardBatchOutOfRange(t *testing.T) {
	for _, b := range []int{-1, MaxWireGuardBatch + 1} {
		if _, err := (WireGuardConfig{Batch: b}).validate(); err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("Batch %d: %v, want out of range", b, err)
		}
	}
}
