package encap

import (
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// recvPacket is one packet a recorder saw, copied out of the transport's
// buffer.
type recvPacket struct {
	data []byte
	from netip.AddrPort
}

// recorder is a Receiver that keeps copies of everything it receives and
// checks the Receiver contract on the way.
type recorder struct {
	t      testing.TB
	mu     sync.Mutex
	pkts   []recvPacket
	notify chan struct{}
}

func newRecorder(t testing.TB) *recorder {
	return &recorder{t: t, notify: make(chan struct{}, 1)}
}

func (r *recorder) Receive(bufs [][]byte, sizes []int, offset int, from []netip.AddrPort) {
	if len(bufs) != len(sizes) || len(bufs) != len(from) || len(bufs) == 0 {
		r.t.Errorf("Receive got %d bufs, %d sizes, %d addresses; want equal, non-zero", len(bufs), len(sizes), len(from))
		return
	}
	if offset != Headroom {
		r.t.Errorf("Receive offset = %d, want Headroom (%d)", offset, Headroom)
	}
	r.mu.Lock()
	for i, b := range bufs {
		if sizes[i] <= 0 || offset+sizes[i] > len(b) {
			r.t.Errorf("packet %d: size %d does not fit a %d-byte buffer at offset %d", i, sizes[i], len(b), offset)
			continue
		}
		b[0] = 0xee // headroom is the receiver's to use
		r.pkts = append(r.pkts, recvPacket{data: append([]byte(nil), b[offset:offset+sizes[i]]...), from: from[i]})
	}
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// waitFor waits until at least n packets have arrived in total and returns
// all of them.
func (r *recorder) waitFor(n int, timeout time.Duration) []recvPacket {
	r.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		got := len(r.pkts)
		if got >= n {
			pkts := append([]recvPacket(nil), r.pkts...)
			r.mu.Unlock()
			return pkts
		}
		r.mu.Unlock()
		select {
		case <-r.notify:
		case <-deadline.C:
			r.t.Fatalf("received %d packets within %v, want %d", got, timeout, n)
		}
	}
}

// reset forgets the packets seen so far.
func (r *recorder) reset() {
	r.mu.Lock()
	r.pkts = nil
	r.mu.Unlock()
}

// goroutinesStartedBy counts live goroutines created by function fn (a
// package-qualified name such as "encap.(*Plain).Start"), whether or not
// they have begun running.
func goroutinesStartedBy(fn string) int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "created by meshnet.dev/meshnet/"+fn+" ") {
			n++
		}
	}
	return n
}

// goroutinesStartedByAfterStop polls goroutinesStartedBy(fn) until it is
// want, for up to 5 s, and returns the last count. A Close that waited for
// its goroutines returns once they have signalled; each one still runs its
// last instructions (deferred calls, the exit) after that, visibly so under
// the race detector.
func goroutinesStartedByAfterStop(fn string, want int) int {
	var n int
	pollUntil(5*time.Second, func() bool { n = goroutinesStartedBy(fn); return n == want })
	return n
}
