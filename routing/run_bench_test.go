package routing

import (
	"errors"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/internal/packet"
)

// Benchmarks of Port.Run, the whole outbound loop: a device read (a copy
// per frame, as from the kernel), routing, VXLAN encapsulation and the
// transport's send, for a plain network (into a second forwarder on the
// same goroutine) and for an encrypted one (into a real WireGuard pair over
// loopback).

var errFeedDone = errors.New("feed done")

// feedDev hands out batches of copies of one frame until it has served
// its quota, then reports itself closed. It counts what is written to it.
type feedDev struct {
	mac      packet.MAC
	frame    []byte
	batch    int
	left     int // batches still to serve; Run's goroutine only
	written  atomic.Uint64
	verified atomic.Uint64
}

func (d *feedDev) WaitReadable() error {
	if d.left <= 0 {
		return errFeedDone
	}
	return nil
}

func (d *feedDev) TryRead(bufs [][]byte, sizes []int, off int) (int, error) {
	if d.left <= 0 {
		return 0, errFeedDone
	}
	d.left--
	n := min(len(bufs), len(sizes), d.batch)
	for i := range n {
		sizes[i] = copy(bufs[i][off:], d.frame)
	}
	return n, nil
}

func (d *feedDev) Write(bufs [][]byte, _ int) (int, error) {
	d.written.Add(uint64(len(bufs)))
	return len(bufs), nil
}

func (d *feedDev) WriteVerified(bufs [][]byte, _ int) (int, error) {
	d.verified.Add(uint64(len(bufs)))
	return len(bufs), nil
}

func (d *feedDev) BatchSize() int           { return 64 }
func (d *feedDev) HardwareAddr() packet.MAC { return d.mac }

// runBatches runs p over n batches of dev and reports ns per packet.
func runBatches(b *testing.B, p *Port, dev *feedDev) {
	b.Helper()
	dev.left = 1
	if err := p.Run(); !errors.Is(err, errFeedDone) {
		b.Fatalf("Run = %v", err)
	}
	b.SetBytes(int64(len(dev.frame) * dev.batch))
	b.ReportAllocs()
	b.ResetTimer()
	dev.left = b.N
	if err := p.Run(); !errors.Is(err, errFeedDone) {
		b.Fatalf("Run = %v", err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*dev.batch), "ns/pkt")
}

// BenchmarkPortRunPlain: 64 frames of 1400 bytes a batch to one peer of a
// plain network, delivered synchronously into its forwarder.
func BenchmarkPortRunPlain(b *testing.B) {
	pa, devB := forwardPair(b, 1400)
	frame := make([]byte, 1400)
	copy(frame, pa.bufs[0][encap.Headroom:encap.Headroom+1400])
	dev := &feedDev{mac: pa.dev.HardwareAddr(), frame: frame, batch: 64}
	p := newPort(pa.f, pa.vni, dev)
	runBatches(b, p, dev)
	if devB.written.Load() < uint64(b.N*dev.batch) {
		b.Fatalf("delivered %d of %d frames", devB.written.Load(), b.N*dev.batch)
	}
}

// BenchmarkPortRunEncrypted: 64 frames of 1400 bytes a batch to one peer of
// an encrypted network, through a real WireGuard pair over loopback. The
// receiver shares the CPU; what is measured is the sender's pace, which
// WireGuard's queues hold to what it can encrypt.
func BenchmarkPortRunEncrypted(b *testing.B) {
	p := newWGPair(b, Config{})
	devZ := &feedDev{mac: p.macB}
	if _, err := p.fb.Attach(5, devZ); err != nil {
		b.Fatal(err)
	}
	frame := putTCP4(make([]byte, 1400), p.macB, p.macA, netip.MustParseAddr("10.0.0.9"), 40000, 1400)
	dev := &feedDev{mac: p.macA, frame: frame, batch: 64}
	pa, err := p.fa.Attach(5, dev)
	if err != nil {
		b.Fatal(err)
	}
	// The handshake, outside the timing.
	dev.left = 1
	if err := pa.Run(); !errors.Is(err, errFeedDone) {
		b.Fatalf("Run = %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for devZ.verified.Load() == 0 {
		if time.Now().After(deadline) {
			b.Fatal("no frame crossed the WireGuard pair")
		}
		time.Sleep(time.Millisecond)
	}
	runBatches(b, pa, dev)
}
