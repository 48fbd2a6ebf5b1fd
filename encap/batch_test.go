package encap

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"

	"meshnet.dev/meshnet/internal/testenv"
)

// sendCall is one Send a fakeSender saw.
type sendCall struct {
	dst  netip.AddrPort
	pkts [][]byte
}

// fakeSender records what it is asked to send and fails for one
// destination.
type fakeSender struct {
	batch int
	fail  netip.AddrPort
	calls []sendCall
}

func (s *fakeSender) Send(bufs [][]byte, offset int, dst netip.AddrPort) error {
	c := sendCall{dst: dst}
	for _, b := range bufs {
		c.pkts = append(c.pkts, bytes.Clone(b[offset:]))
	}
	s.calls = append(s.calls, c)
	if dst == s.fail {
		return errors.New("refused")
	}
	return nil
}

func (s *fakeSender) BatchSize() int { return s.batch }

// TestLendSendsByDestination puts packets for three destinations,
// interleaved, into a batch of the caller's buffers: Return sends each
// destination's in slot order, BatchSize at a time, skips empty slots and
// slots past used, and reports the packets whose Send failed.
func TestLendSendsByDestination(t *testing.T) {
	a, b, c := netip.MustParseAddrPort("192.0.2.1:4789"), netip.MustParseAddrPort("192.0.2.2:4789"), netip.MustParseAddrPort("192.0.2.3:4789")
	own := make([][]byte, 10)
	for i := range own {
		own[i] = make([]byte, 256)
	}
	s := &fakeSender{batch: 2, fail: c}
	var batch Batch
	batch.Lend(own, s)
	if batch.Offset() != Headroom-HeaderLen || len(batch.Bufs()) != len(own) {
		t.Fatalf("offset %d, %d buffers; want %d and %d", batch.Offset(), len(batch.Bufs()), Headroom-HeaderLen, len(own))
	}
	dsts := []netip.AddrPort{a, b, a, {}, c, a, b, a, a, b} // slot 3 empty; 9 past used
	for i, dst := range dsts {
		if !dst.IsValid() {
			continue
		}
		pkt := own[i][batch.Offset() : batch.Offset()+10+i]
		Encode(pkt, uint32(i))
		if !batch.Put(i, len(pkt), dst) {
			t.Fatalf("Put(%d) refused", i)
		}
	}
	if failed := batch.Return(9); failed != 1 {
		t.Errorf("Return reported %d failed packets, want 1 (the one to %s)", failed, c)
	}
	want := []struct {
		dst   netip.AddrPort
		slots []int
	}{{a, []int{0, 2}}, {a, []int{5, 7}}, {a, []int{8}}, {b, []int{1, 6}}, {c, []int{4}}}
	if len(s.calls) != len(want) {
		t.Fatalf("%d Send calls, want %d", len(s.calls), len(want))
	}
	for k, w := range want {
		got := s.calls[k]
		if got.dst != w.dst || len(got.pkts) != len(w.slots) {
			t.Fatalf("call %d: %d packets to %s, want %d to %s", k, len(got.pkts), got.dst, len(w.slots), w.dst)
		}
		for j, slot := range w.slots {
			h, err := Parse(got.pkts[j])
			if err != nil || h.VNI != uint32(slot) || len(got.pkts[j]) != 10+slot {
				t.Fatalf("call %d packet %d: VNI %d, %d bytes; want slot %d's", k, j, h.VNI, len(got.pkts[j]), slot)
			}
		}
	}
	// Return cleared the batch: the next one starts empty.
	s.calls = nil
	batch.Lend(own, s)
	if batch.Return(len(own)); len(s.calls) != 0 {
		t.Fatalf("an empty batch sent %d times", len(s.calls))
	}
}

// TestLendForgetsPacketsPastUsed: packets Put in slots past those
// returned as used are never sent, not with this batch and not with the
// next one of the same buffers (for one destination and for several).
func TestLendForgetsPacketsPastUsed(t *testing.T) {
	a, b := netip.MustParseAddrPort("192.0.2.1:4789"), netip.MustParseAddrPort("192.0.2.2:4789")
	for _, second := range []netip.AddrPort{a, b} {
		own := make([][]byte, 4)
		for i := range own {
			own[i] = make([]byte, 256)
		}
		s := &fakeSender{batch: 8}
		var batch Batch
		batch.Lend(own, s)
		for i, dst := range []netip.AddrPort{a, second, a, a} {
			Encode(own[i][batch.Offset():], uint32(i))
			batch.Put(i, 20, dst)
		}
		batch.Return(2)
		batch.Lend(own, s)
		Encode(own[0][batch.Offset():], 99)
		batch.Put(0, 20, a)
		batch.Return(4)
		var vnis []uint32
		for _, c := range s.calls {
			for _, p := range c.pkts {
				h, _ := Parse(p)
				vnis = append(vnis, h.VNI)
			}
		}
		if len(vnis) != 3 || vnis[len(vnis)-1] != 99 {
			t.Errorf("second destination %s: sent VNIs %v, want slots 0 and 1, then 99", second, vnis)
		}
	}
}

// TestLendWithoutSenderRefusesPuts: a batch with nowhere to send takes
// frames but no packet.
func TestLendWithoutSenderRefusesPuts(t *testing.T) {
	own := [][]byte{make([]byte, 256)}
	var batch Batch
	batch.Lend(own, nil)
	if batch.Put(0, 20, netip.MustParseAddrPort("192.0.2.1:4789")) {
		t.Fatal("Put succeeded on a batch with nowhere to send")
	}
	if failed := batch.Return(1); failed != 0 {
		t.Fatalf("Return reported %d failed", failed)
	}
}

// borrowAndSend sends pkts (VXLAN packets) to dst through a batch borrowed
// from tr, as a device reader does.
func borrowAndSend(t *testing.T, tr Transport, pkts [][]byte, dst netip.AddrPort) {
	t.Helper()
	own := make([][]byte, len(pkts))
	for i := range own {
		own[i] = make([]byte, MaxPacket)
	}
	var b Batch
	if !tr.Borrow(&b, own) {
		t.Fatal("Borrow refused")
	}
	if len(b.Bufs()) < len(pkts) {
		b.Return(0) // WireGuard's reader waits until the batch comes back
		t.Fatalf("lent %d buffers, want at least %d", len(b.Bufs()), len(pkts))
	}
	for i, p := range pkts {
		copy(b.Bufs()[i][b.Offset():], p)
		if !b.Put(i, len(p), dst) {
			t.Fatalf("Put(%d) refused", i)
		}
	}
	if failed := b.Return(len(pkts)); failed != 0 {
		t.Fatalf("%d packets failed", failed)
	}
}

// TestBorrowDelivers sends through a borrowed batch on each transport
// and checks the receiver got exactly the packets; a closed transport
// lends nothing.
func TestBorrowDelivers(t *testing.T) {
	const n = 50
	pkts := func(vni uint32) [][]byte {
		batch := makeBatch(vni, n)
		for i := range batch {
			batch[i] = batch[i][Headroom:]
		}
		return batch
	}
	t.Run("plain", func(t *testing.T) {
		a, b := newTestPlain(t, PlainConfig{}), newTestPlain(t, PlainConfig{})
		rb := newRecorder(t)
		if err := b.Start(rb); err != nil {
			t.Fatal(err)
		}
		lo := netip.MustParseAddr("127.0.0.1")
		borrowAndSend(t, a, pkts(7), netip.AddrPortFrom(lo, b.LocalPort()))
		checkBatch(t, rb.waitFor(n, testWait), 7, n, netip.AddrPortFrom(lo, a.LocalPort()))
		a.Close()
		if a.Borrow(&Batch{}, make([][]byte, 1)) {
			t.Fatal("a closed transport lent a batch")
		}
	})
	t.Run("channel", func(t *testing.T) {
		cn := NewChannelNetwork()
		a, _ := startChannel(t, cn, chanA)
		_, rb := startChannel(t, cn, chanB)
		borrowAndSend(t, a, pkts(8), chanB)
		checkBatch(t, rb.waitFor(n, testWait), 8, n, chanA)
		a.Close()
		if a.Borrow(&Batch{}, make([][]byte, 1)) {
			t.Fatal("a closed transport lent a batch")
		}
	})
	t.Run("wireguard", func(t *testing.T) {
		a, b := newWGNode(t, nil), newWGNode(t, nil)
		connect(t, a, b)
		k := min(n, a.w.BatchSize()) // WireGuard lends one read's worth
		borrowAndSend(t, a.w, pkts(9)[:k], b.from())
		checkBatch(t, b.rec.waitFor(k, testWait), 9, k, a.from())
		var lent Batch
		if !a.w.Borrow(&lent, nil) {
			t.Fatal("Borrow refused")
		}
		if lent.Put(0, 100, netip.AddrPortFrom(netip.MustParseAddr("fd00::99"), Port)) {
			t.Error("Put to an unknown VTEP succeeded")
		}
		lent.Return(1)
		a.w.Close()
		if a.w.Borrow(&lent, nil) {
			t.Fatal("a closed transport lent a batch")
		}
	})
}

// TestBorrowAllocs checks the lent send path of the plain and the
// encrypted transport: borrowing, putting and returning a batch of 64
// packets allocates nothing.
func TestBorrowAllocs(t *testing.T) {
	testenv.SkipAllocsUnderRace(t)
	pkts := makeBatch(1, 64)
	own := make([][]byte, 64)
	for i := range own {
		own[i] = make([]byte, MaxPacket)
		copy(own[i][Headroom-HeaderLen:], pkts[i][Headroom:])
	}
	fill := func(tr Transport, b *Batch, dst netip.AddrPort) {
		if !tr.Borrow(b, own) {
			t.Fatal("Borrow refused")
		}
		for i := range pkts {
			if !b.Put(i, len(pkts[i])-Headroom, dst) {
				t.Fatalf("Put(%d) refused", i)
			}
		}
		if failed := b.Return(len(pkts)); failed != 0 {
			t.Fatalf("%d packets failed", failed)
		}
	}
	t.Run("plain", func(t *testing.T) {
		p := newTestPlain(t, PlainConfig{})
		dst := udpSink(t, "udp4", "127.0.0.1:0")
		var b Batch
		if a := testing.AllocsPerRun(200, func() { fill(p, &b, dst) }); a != 0 {
			t.Errorf("a lent batch of 64 packets allocates %v times", a)
		}
	})
	t.Run("wireguard", func(t *testing.T) {
		w := bareWireGuard(testSrcVTEP, 128)
		w.vteps.Store(&map[netip.Addr]struct{}{testDstVTEP: {}})
		w.tun = newWGTUN("", defaultTunnelMTU, 128, w.deliver, nil)
		done := make(chan struct{})
		go func() { // wireguard-go's TUN reader
			defer close(done)
			bufs, sizes := make([][]byte, 128), make([]int, 128)
			for i := range bufs {
				bufs[i] = make([]byte, 1<<16-1)
			}
			for {
				if _, err := w.tun.Read(bufs, sizes, 16); err != nil {
					return
				}
			}
		}()
		defer func() { w.tun.Close(); <-done }()
		var b Batch
		dst := netip.AddrPortFrom(testDstVTEP, Port)
		if a := testing.AllocsPerRun(200, func() { fill(w, &b, dst) }); a != 0 {
			t.Errorf("a lent batch of 64 packets allocates %v times", a)
		}
		if st := w.Stats(); st.PacketsSent != 201*64 {
			t.Errorf("sent %d packets, want %d", st.PacketsSent, 201*64)
		}
	})
}
