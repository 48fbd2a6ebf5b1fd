package routing

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"
	"testing"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/internal/packet"
	"meshnet.dev/meshnet/internal/testenv"
)

// countDev is a device whose frames the test writes into the port's own
// buffers itself: TryRead only reports the next frames' sizes (frames of
// frameLen in every buffer). It counts what is written to it.
type countDev struct {
	mac      packet.MAC
	frameLen int
	written  atomic.Uint64
}

func (d *countDev) WaitReadable() error { return nil }
func (d *countDev) TryRead(bufs [][]byte, sizes []int, _ int) (int, error) {
	n := min(len(bufs), len(sizes))
	for i := range n {
		sizes[i] = d.frameLen
	}
	return n, nil
}
func (d *countDev) Write(bufs [][]byte, _ int) (int, error) {
	d.written.Add(uint64(len(bufs)))
	return len(bufs), nil
}
func (d *countDev) BatchSize() int           { return 64 }
func (d *countDev) HardwareAddr() packet.MAC { return d.mac }

// loopTransport delivers sends synchronously into another forwarder, so a
// benchmark measures encap, send, decap and delivery on one goroutine.
type loopTransport struct {
	from  netip.AddrPort
	to    *Forwarder
	sizes []int
	froms []netip.AddrPort
}

func (l *loopTransport) Start(encap.Receiver) error { return nil }
func (l *loopTransport) Send(bufs [][]byte, offset int, _ netip.AddrPort) error {
	for i, b := range bufs {
		l.sizes[i] = len(b) - offset
		l.froms[i] = l.from
	}
	l.to.inbound(bufs, l.sizes[:len(bufs)], offset, l.froms[:len(bufs)], false)
	return nil
}
func (l *loopTransport) Borrow(b *encap.Batch, own [][]byte) bool {
	b.Lend(own, l)
	return true
}
func (l *loopTransport) BatchSize() int    { return 64 }
func (l *loopTransport) Secure() bool      { return false }
func (l *loopTransport) LocalPort() uint16 { return encap.Port }
func (l *loopTransport) Close() error      { return nil }

// forwardPair builds node a (sending) and b (receiving) and fills a's port
// with a batch of unicast frames for b, which its device hands out again
// and again.
func forwardPair(tb testing.TB, frameLen int) (*Port, *countDev) {
	macA, macB := packet.MAC{2, 0, 0, 0, 0, 1}, packet.MAC{2, 0, 0, 0, 0, 2}
	addrA, addrB := netip.MustParseAddrPort("192.0.2.1:4789"), netip.MustParseAddrPort("192.0.2.2:4789")
	mk := func(self, other string, selfMAC, otherMAC packet.MAC, otherAddr netip.AddrPort) *Table {
		t := NewTable()
		t.Update(func(tx *Tx) {
			tx.SetNetwork(NetworkConfig{Name: "n", VNI: 5, Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}})
			tx.SetPeer(PeerConfig{Name: other, Underlay: otherAddr})
			tx.SetMember(5, other, true)
			tx.SetEndpoint(5, Endpoint{MAC: selfMAC, IP: netip.MustParseAddr("10.0.0.1")})
			tx.SetEndpoint(5, Endpoint{MAC: otherMAC, IP: netip.MustParseAddr("10.0.0.2"), Node: other})
		})
		return t
	}
	fb := New(Config{Table: mk("b", "a", macB, macA, addrA)})
	devB := &countDev{mac: macB}
	if _, err := fb.Attach(5, devB); err != nil {
		tb.Fatal(err)
	}
	lt := &loopTransport{from: addrA, to: fb, sizes: make([]int, 64), froms: make([]netip.AddrPort, 64)}
	fa := New(Config{Table: mk("a", "b", macA, macB, addrB), Plain: lt})
	pa, err := fa.Attach(5, &countDev{mac: macA, frameLen: frameLen})
	if err != nil {
		tb.Fatal(err)
	}
	for i := range pa.bufs {
		f := pa.bufs[i][encap.Headroom:]
		packet.PutEthHeader(f, macB, macA, packet.EtherTypeIPv4)
		f[14] = 0x45
		binary.BigEndian.PutUint16(f[16:18], uint16(frameLen-14))
		copy(f[26:30], []byte{10, 0, 0, 1})
		copy(f[30:34], []byte{10, 0, 0, 2})
	}
	if err := pa.forwardBatch(); err != nil { // warm up: scratch grows once
		tb.Fatal(err)
	}
	return pa, devB
}

func TestForwardPathDoesNotAllocate(t *testing.T) {
	testenv.SkipAllocsUnderRace(t)
	pa, devB := forwardPair(t, 1400)
	allocs := testing.AllocsPerRun(100, func() { pa.forwardBatch() })
	if allocs != 0 {
		t.Fatalf("forwarding a batch allocated %.1f times", allocs)
	}
	if devB.written.Load() == 0 {
		t.Fatal("nothing reached the receiving device")
	}
}

// BenchmarkForwardPath measures device frame → forward → VXLAN encap →
// transport → decap → checks → device write, per packet.
func BenchmarkForwardPath(b *testing.B) {
	pa, devB := forwardPair(b, 1400)
	n := len(pa.bufs)
	b.ReportAllocs()
	b.SetBytes(int64(1400 * n))
	b.ResetTimer()
	for b.Loop() {
		pa.forwardBatch()
	}
	b.StopTimer()
	if got := devB.written.Load(); got < uint64(b.N*n) {
		b.Fatalf("delivered %d of %d frames", got, b.N*n)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/pkt")
}

// TestReplicationDoesNotAllocate forwards batches of broadcast frames:
// copied aside, sent to the member and delivered, with no allocation once
// the copies' buffers have grown to the frames.
func TestReplicationDoesNotAllocate(t *testing.T) {
	testenv.SkipAllocsUnderRace(t)
	pa, devB := forwardPair(t, 1400)
	bc := packet.BroadcastMAC()
	for i := range pa.bufs {
		copy(pa.bufs[i][encap.Headroom:], bc[:])
	}
	pa.bum = newBucket(1e12, 1<<30) // no rate bound here
	if err := pa.forwardBatch(); err != nil {
		t.Fatal(err)
	}
	before := devB.written.Load()
	allocs := testing.AllocsPerRun(100, func() { pa.forwardBatch() })
	if allocs != 0 {
		t.Fatalf("replicating a batch allocated %.1f times", allocs)
	}
	if got, want := devB.written.Load()-before, uint64(101*len(pa.bufs)); got != want {
		t.Fatalf("the member got %d broadcast frames, want %d", got, want)
	}
	if pa.Stats.Replicated.Load() == 0 || pa.Stats.Drops[DropBUMRate].Load() != 0 {
		t.Fatalf("replicated %d, rate drops %d", pa.Stats.Replicated.Load(), pa.Stats.Drops[DropBUMRate].Load())
	}
}
