package encap

import (
	"errors"
	"net/netip"
	"sync"
	"testing"
)

var (
	chanA = netip.MustParseAddrPort("10.0.0.1:4789")
	chanB = netip.MustParseAddrPort("10.0.0.2:4789")
	chanC = netip.MustParseAddrPort("10.0.0.3:4789")
)

// startChannel registers and starts a transport recording what it gets.
func startChannel(t *testing.T, n *ChannelNetwork, addr netip.AddrPort) (*ChannelTransport, *recorder) {
	t.Helper()
	tr := n.NewTransport(addr, true)
	t.Cleanup(func() { tr.Close() })
	r := newRecorder(t)
	if err := tr.Start(r); err != nil {
		t.Fatal(err)
	}
	return tr, r
}

// marker sends one packet that, arriving after earlier ones in the same
// queue, proves nothing else is in flight from a to b.
func marker(t *testing.T, from *ChannelTransport, to netip.AddrPort) {
	t.Helper()
	if err := from.Send(makeBatch(999, 1), Headroom, to); err != nil {
		t.Fatal(err)
	}
}

func TestChannelExchange(t *testing.T) {
	n := NewChannelNetwork()
	a, ra := startChannel(t, n, chanA)
	b, rb := startChannel(t, n, chanB)
	if !a.Secure() || a.LocalPort() != 4789 || a.Addr() != chanA {
		t.Fatalf("transport reports secure=%v port=%d addr=%s", a.Secure(), a.LocalPort(), a.Addr())
	}
	for _, size := range []int{1, 17, 128} {
		batch := makeBatch(uint32(size), size)
		if err := a.Send(batch, Headroom, chanB); err != nil {
			t.Fatal(err)
		}
		for _, buf := range batch {
			clear(buf) // Send copied; the caller may reuse its buffers at once
		}
		checkBatch(t, rb.waitFor(size, testWait), uint32(size), size, chanA)
		rb.reset()

		if err := b.Send(makeBatch(uint32(size), size), Headroom, chanA); err != nil {
			t.Fatal(err)
		}
		checkBatch(t, ra.waitFor(size, testWait), uint32(size), size, chanB)
		ra.reset()
	}
	if st := a.Stats(); st.PacketsSent != 146 || st.PacketsReceived != 146 || st.Dropped != 0 {
		t.Errorf("a.Stats() = %+v, want 146 sent and received, none dropped", st)
	}
}

func TestChannelQueuesUntilStart(t *testing.T) {
	n := NewChannelNetwork()
	a, _ := startChannel(t, n, chanA)
	b := n.NewTransport(chanB, false)
	t.Cleanup(func() { b.Close() })
	if err := a.Send(makeBatch(3, 10), Headroom, chanB); err != nil {
		t.Fatal(err)
	}
	rb := newRecorder(t)
	if err := b.Start(rb); err != nil {
		t.Fatal(err)
	}
	checkBatch(t, rb.waitFor(10, testWait), 3, 10, chanA)
}

func TestChannelUnknownDestination(t *testing.T) {
	n := NewChannelNetwork()
	a, _ := startChannel(t, n, chanA)
	if err := a.Send(makeBatch(1, 5), Headroom, chanC); err != nil {
		t.Fatalf("Send to nobody: %v (want a silent, counted drop)", err)
	}
	if st := a.Stats(); st.Dropped != 5 || st.PacketsSent != 0 {
		t.Errorf("Stats() = %+v, want 5 dropped, 0 sent", st)
	}
}

func TestChannelBlock(t *testing.T) {
	n := NewChannelNetwork()
	a, ra := startChannel(t, n, chanA)
	b, rb := startChannel(t, n, chanB)
	c, _ := startChannel(t, n, chanC)
	n.Block(chanB, chanA) // order does not matter

	if err := a.Send(makeBatch(1, 4), Headroom, chanB); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(makeBatch(1, 4), Headroom, chanA); err != nil {
		t.Fatal(err)
	}
	if a.Stats().Dropped != 4 || b.Stats().Dropped != 4 {
		t.Fatalf("blocked sends not counted: a %+v, b %+v", a.Stats(), b.Stats())
	}
	// Other links still work, and the markers come first: nothing blocked
	// was queued.
	marker(t, c, chanA)
	marker(t, c, chanB)
	for _, r := range []*recorder{ra, rb} {
		if pkts := r.waitFor(1, testWait); len(pkts) != 1 || pkts[0].from != chanC {
			t.Fatalf("across a partition: got %d packets, first from %s; want only the marker from %s", len(pkts), pkts[0].from, chanC)
		}
		r.reset()
	}

	n.Unblock(chanA, chanB)
	if err := a.Send(makeBatch(2, 4), Headroom, chanB); err != nil {
		t.Fatal(err)
	}
	checkBatch(t, rb.waitFor(4, testWait), 2, 4, chanA)
}

func TestChannelLoss(t *testing.T) {
	n := NewChannelNetwork()
	a, _ := startChannel(t, n, chanA)
	_, rb := startChannel(t, n, chanB)
	c, _ := startChannel(t, n, chanC)

	n.SetLoss(1)
	if err := a.Send(makeBatch(1, 100), Headroom, chanB); err != nil {
		t.Fatal(err)
	}
	if st := a.Stats(); st.Dropped != 100 {
		t.Fatalf("with loss 1: Stats() = %+v, want 100 dropped", st)
	}

	n.SetLoss(0.5)
	const sent = 2000
	for i := 0; i < sent; i += 100 {
		if err := a.Send(makeBatch(2, 100), Headroom, chanB); err != nil {
			t.Fatal(err)
		}
	}
	n.SetLoss(0)
	// a queued its survivors before c queues the marker, so once the
	// marker is in, everything is.
	got := int(a.Stats().PacketsSent)
	marker(t, c, chanB)
	if pkts := rb.waitFor(got+1, testWait); len(pkts) != got+1 {
		t.Fatalf("received %d packets, want the %d a counted as sent plus the marker", len(pkts), got)
	}
	// 2000 trials at p=0.5: 800..1200 is more than eight standard deviations.
	if got < 800 || got > 1200 {
		t.Errorf("loss 0.5 delivered %d of %d packets", got, sent)
	}
	if dropped := a.Stats().Dropped - 100; int(dropped)+got != sent {
		t.Errorf("delivered %d + dropped %d != sent %d", got, dropped, sent)
	}
	n.SetLoss(-3) // clamped to no loss
	if err := a.Send(makeBatch(3, 10), Headroom, chanB); err != nil {
		t.Fatal(err)
	}
	rb.waitFor(got+1+10, testWait)
}

func TestChannelInject(t *testing.T) {
	n := NewChannelNetwork()
	_, ra := startChannel(t, n, chanA)
	n.Block(chanA, chanC)
	n.SetLoss(1) // neither applies to injected packets
	evil := netip.MustParseAddrPort("192.0.2.66:1234")
	if err := n.Inject(chanA, evil, []byte{0xde, 0xad}); err != nil {
		t.Fatal(err)
	}
	pkts := ra.waitFor(1, testWait)
	if string(pkts[0].data) != "\xde\xad" || pkts[0].from != evil {
		t.Fatalf("injected packet arrived as % x from %s", pkts[0].data, pkts[0].from)
	}
	if err := n.Inject(chanC, evil, []byte{1}); err == nil {
		t.Error("Inject to an address with no transport: no error")
	}
}

func TestChannelQueueFull(t *testing.T) {
	n := NewChannelNetwork()
	a, _ := startChannel(t, n, chanA)
	b := n.NewTransport(chanB, false) // never started: nothing drains
	t.Cleanup(func() { b.Close() })
	batch := makeBatch(1, channelBatchSize)
	for i := 0; i < channelQueueLen/channelBatchSize; i++ {
		if err := a.Send(batch, Headroom, chanB); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Send(batch[:7], Headroom, chanB); err != nil {
		t.Fatal(err)
	}
	if st := b.Stats(); st.Dropped != 7 {
		t.Errorf("receiver Stats() = %+v, want 7 dropped at the full queue", st)
	}
	if err := n.Inject(chanB, chanA, []byte{1}); err == nil {
		t.Error("Inject into a full queue: no error")
	}
}

func TestChannelLifecycle(t *testing.T) {
	const loop = "encap.(*ChannelTransport).Start"
	before := goroutinesStartedBy(loop)
	n := NewChannelNetwork()
	a, _ := startChannel(t, n, chanA)
	b := n.NewTransport(chanB, false)
	if err := b.Start(nil); err == nil {
		t.Error("Start(nil): no error")
	}
	if err := b.Start(newRecorder(t)); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(newRecorder(t)); err == nil {
		t.Error("second Start: no error")
	}
	if got := goroutinesStartedBy(loop) - before; got != 2 {
		t.Fatalf("%d delivery goroutines, want 2", got)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("registering an address in use did not panic")
			}
		}()
		n.NewTransport(chanB, false)
	}()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if got := goroutinesStartedByAfterStop(loop, before+1) - before; got != 1 {
		t.Errorf("%d delivery goroutines after closing one of two, want 1", got)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := b.Send(makeBatch(1, 1), Headroom, chanA); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: err = %v, want ErrClosed", err)
	}
	if err := b.Start(newRecorder(t)); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: err = %v, want ErrClosed", err)
	}
	if err := a.Send(makeBatch(1, 2), Headroom, chanB); err != nil || a.Stats().Dropped != 2 {
		t.Errorf("Send to a closed transport: err %v, stats %+v; want a counted drop", err, a.Stats())
	}
	// The address is free again: a restarted node gets its traffic.
	b2, rb2 := startChannel(t, n, chanB)
	if err := a.Send(makeBatch(4, 3), Headroom, chanB); err != nil {
		t.Fatal(err)
	}
	checkBatch(t, rb2.waitFor(3, testWait), 4, 3, chanA)
	b2.Close()
	if err := b.Send(make([][]byte, channelBatchSize+1), 0, chanA); err == nil {
		t.Error("Send of BatchSize+1 packets: no error")
	}
}

func TestChannelConcurrentSenders(t *testing.T) {
	n := NewChannelNetwork()
	_, rc := startChannel(t, n, chanC)
	senders := []netip.AddrPort{chanA, chanB, netip.MustParseAddrPort("[fd00::1]:4789")}
	var wg sync.WaitGroup
	for _, addr := range senders {
		tr, _ := startChannel(t, n, addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				if err := tr.Send(makeBatch(1, 32), Headroom, chanC); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	pkts := rc.waitFor(len(senders)*320, testWait)
	per := map[netip.AddrPort]int{}
	for _, p := range pkts {
		per[p.from]++
	}
	for _, addr := range senders {
		if per[addr] != 320 {
			t.Errorf("%d packets from %s, want 320", per[addr], addr)
		}
	}
}
