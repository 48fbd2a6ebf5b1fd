package encap

import (
	"testing"
	"time"
)

func dataMsg(n int) []byte {
	b := make([]byte, n)
	b[0] = wgTransportType
	return b
}

func TestRxGateCountsDataOnly(t *testing.T) {
	g := newRxGate(10)
	bufs := [][]byte{dataMsg(100), dataMsg(wgKeepaliveLen), {1, 0, 0, 0}, dataMsg(1500)}
	sizes := []int{100, wgKeepaliveLen, 148, 1500}
	g.received(bufs, sizes, len(bufs))
	if got := g.inflight.Load(); got != 2 {
		t.Fatalf("in flight %d after two data messages, a keepalive and a handshake; want 2", got)
	}
	g.delivered(5)
	if got := g.inflight.Load(); got != 0 {
		t.Fatalf("in flight %d after delivering more than counted; want 0", got)
	}
}

// TestRxGateWaits: a reader over the limit waits for a delivery; without
// one, the valve lets it go and the count starts afresh; closing releases
// it at once.
func TestRxGateWaits(t *testing.T) {
	g := newRxGate(1)
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

// TestWireGuardReceiveBoundDelivers: a receive bound far below a batch
// still delivers everything.
func TestWireGuardReceiveBoundDelivers(t *testing.T) {
	small := func(c *WireGuardConfig) { c.MaxReceiveInFlight = 4 }
	a, b := newWGNode(t, small), newWGNode(t, small)
	connect(t, a, b)
	for range 5 {
		sendAndCheck(t, a, b, 7, 100)
	}
	if b.w.gate == nil || b.w.gate.limit != 4 {
		t.Fatal("the bound was not applied")
	}
}
