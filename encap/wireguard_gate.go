package encap

// The gates bound the memory wireguard-go spends on packets in flight.
//
// wireguard-go gives every packet its own 64 KiB buffer from pools that
// grow without bound, and queues up to 1024 batches between each of its
// stages. Nothing in between drops: when the next stage (the socket on the
// way out; our device write, with the kernel's TCP work behind it, on the
// way in) is the slower side, the queues grow until TCP's window stops
// them, a few MB of data in thousands of 64 KiB buffers, each zeroed and so
// resident when the allocator hands it out again. That put an encrypted
// node at 150-450 MiB under load. Its pool sizes are compile-time
// constants, so they cannot be capped from here.
//
// Two gates cap it from the outside. The receive gate: before the socket
// reader reads, it waits while more than the limit of data packets are in
// flight (read by the socket but not yet delivered); the socket's own
// buffer, which holds packets at their real size, absorbs the rest. The
// send gate: before wireguard-go's device reader takes packets from Send,
// it waits while more than the limit are in flight (taken but not yet
// handed to the socket); the Send waits, and the forwarder behind it
// leaves frames in the device's queue. TCP sees a bounded queue instead of
// a bottomless one either way.
//
// wireguard-go drops some packets without passing them on (keys it no
// longer holds, failed authentication, replays, no session yet); those are
// never counted back, so a wait that sees no progress for gateValve
// assumes the rest were dropped and starts counting afresh. Handshakes and
// keepalives are not data and are never counted.

import (
	"sync/atomic"
	"time"
)

const (
	// DefaultMaxReceiveInFlight bounds data packets between socket and
	// delivery, and DefaultMaxSendInFlight between Send and the socket:
	// 8 MiB of wireguard-go's 64 KiB buffers each, and at 1400 bytes a
	// packet 180 KB of data, 0.5 ms at 3 Gbit/s: more than one batch
	// through each stage, which is what keeps the pipeline busy
	// (docs/PERFORMANCE.md has the measurements).
	DefaultMaxReceiveInFlight = 128
	DefaultMaxSendInFlight    = 128
	// gateValve is how long a wait without any delivery lasts before the
	// count is presumed stale.
	gateValve = 10 * time.Millisecond
	// wgTransportType is the first byte of a WireGuard data message (the
	// little-endian type 4); wgKeepaliveLen is the size of one without
	// payload.
	wgTransportType = 4
	wgKeepaliveLen  = 32
)

// flightGate counts data packets in flight through one stage.
type flightGate struct {
	limit    int64
	inflight atomic.Int64
	progress chan struct{} // one slot: packets left the stage
}

func newFlightGate(limit int) *flightGate {
	return &flightGate{limit: int64(limit), progress: make(chan struct{}, 1)}
}

// delivered counts n packets out of the stage.
func (g *flightGate) delivered(n int) {
	if g.inflight.Add(-int64(n)) < 0 {
		g.inflight.Store(0)
	}
	select {
	case g.progress <- struct{}{}:
	default:
	}
}

// entered counts n packets into the stage.
func (g *flightGate) entered(n int) {
	if n > 0 {
		g.inflight.Add(int64(n))
	}
}

// dataMessages counts the WireGuard data messages (not keepalives,
// handshakes or cookies) among the first n packets.
func dataMessages(bufs [][]byte, sizes []int, n int) int {
	k := 0
	for i := range n {
		if sizes[i] > wgKeepaliveLen && bufs[i][0] == wgTransportType {
			k++
		}
	}
	return k
}

// dataMessagesOut is dataMessages for packets on their way out.
func dataMessagesOut(bufs [][]byte) int {
	k := 0
	for _, b := range bufs {
		if len(b) > wgKeepaliveLen && b[0] == wgTransportType {
			k++
		}
	}
	return k
}

// wait blocks while the limit is exceeded, until a delivery, the valve,
// or closed.
func (g *flightGate) wait(t *time.Timer, closed <-chan struct{}) {
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
