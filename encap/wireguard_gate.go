package encap

// The receive gate bounds the memory wireguard-go spends on packets it has
// received but not yet delivered.
//
// wireguard-go gives every packet it receives its own 64 KiB buffer and
// queues up to 1024 batches per peer between its socket reader and the
// goroutine that hands decrypted packets to us. Nothing in between drops:
// when delivery (our device write, with the kernel's TCP receive work
// behind it) is the slower side, the queue grows until the sender's TCP
// window stops it, a few MB of data in thousands of 64 KiB buffers, which
// put the receiving node at 300-450 MiB. Its pool sizes are compile-time
// constants, so they cannot be capped from here.
//
// The gate caps it from the outside: before the socket reader reads, it
// waits while more than limit data packets are in flight (read by the
// socket but not yet delivered). The socket's own buffer, which holds
// packets at their real size, absorbs the rest, and TCP sees a bounded
// queue instead of a bottomless one.
//
// wireguard-go drops some packets without delivering them (keys it no
// longer holds, failed authentication, replays); those are never counted
// back, so a wait that sees no delivery for gateValve assumes the rest
// were dropped and starts counting afresh. Handshakes and keepalives are
// not data and are never counted.

import (
	"sync/atomic"
	"time"

	"golang.zx2c4.com/wireguard/conn"
)

const (
	// DefaultMaxReceiveInFlight bounds data packets between socket and
	// delivery: 32 MiB of wireguard-go's 64 KiB buffers, and at 1400 bytes
	// a packet 700 KB of data, milliseconds at the rates meshnet moves. In
	// the benchmark lab the receiving node's peak RSS fell from 290-440 MiB
	// to about 150 MiB, and throughput did not suffer (docs/PERFORMANCE.md).
	DefaultMaxReceiveInFlight = 512
	// gateValve is how long a wait without any delivery lasts before the
	// count is presumed stale.
	gateValve = 10 * time.Millisecond
	// wgTransportType is the first byte of a WireGuard data message (the
	// little-endian type 4); wgKeepaliveLen is the size of one without
	// payload.
	wgTransportType = 4
	wgKeepaliveLen  = 32
)

// rxGate counts data packets in flight between the socket and delivery.
type rxGate struct {
	limit    int64
	inflight atomic.Int64
	progress chan struct{} // one slot: a delivery happened
}

func newRxGate(limit int) *rxGate {
	return &rxGate{limit: int64(limit), progress: make(chan struct{}, 1)}
}

// delivered counts n packets handed out of wireguard-go.
func (g *rxGate) delivered(n int) {
	if g.inflight.Add(-int64(n)) < 0 {
		g.inflight.Store(0)
	}
	select {
	case g.progress <- struct{}{}:
	default:
	}
}

// received counts the data messages among packets just read.
func (g *rxGate) received(bufs [][]byte, sizes []int, n int) {
	k := 0
	for i := range n {
		if sizes[i] > wgKeepaliveLen && bufs[i][0] == wgTransportType {
			k++
		}
	}
	if k > 0 {
		g.inflight.Add(int64(k))
	}
}

// wait blocks while the limit is exceeded, until a delivery, the valve,
// or closed.
func (g *rxGate) wait(t *time.Timer, closed <-chan struct{}) {
	for g.inflight.Load() > g.limit {
		t.Reset(gateValve)
		select {
		case <-g.progress:
		case <-t.C:
			g.inflight.Store(0)
		case <-closed:
		}
		t.Stop()
		select {
		case <-closed:
			return
		default:
		}
	}
}

// gatedBind puts a gate in front of every receive function of its bind.
type gatedBind struct {
	conn.Bind
	gate   *rxGate
	closed atomic.Pointer[chan struct{}] // closed by Close, made by Open
}

func (b *gatedBind) Open(port uint16) ([]conn.ReceiveFunc, uint16, error) {
	fns, actual, err := b.Bind.Open(port)
	if err != nil {
		return nil, 0, err
	}
	closed := make(chan struct{})
	b.closed.Store(&closed)
	gated := make([]conn.ReceiveFunc, len(fns))
	for i, fn := range fns {
		t := time.NewTimer(time.Hour)
		t.Stop()
		gated[i] = func(bufs [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
			b.gate.wait(t, closed)
			n, err := fn(bufs, sizes, eps)
			b.gate.received(bufs, sizes, n)
			return n, err
		}
	}
	return gated, actual, nil
}

func (b *gatedBind) Close() error {
	if c := b.closed.Swap(nil); c != nil {
		close(*c)
	}
	return b.Bind.Close()
}
