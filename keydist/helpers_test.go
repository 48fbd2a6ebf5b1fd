package keydist

import (
	"crypto/rand"
	mrand "math/rand/v2"
	"sync"
	"testing"
	"time"
)

// testRand returns a deterministic entropy source, so failures reproduce.
func testRand(seed byte) *mrand.ChaCha8 {
	var s [32]byte
	s[0] = seed
	return mrand.NewChaCha8(s)
}

func newNode(t testing.TB) (NodePrivate, NodePublic) {
	t.Helper()
	k, err := NewNodePrivate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k, k.Public()
}

func newAdmin(t testing.TB) AdminPrivate {
	t.Helper()
	k, err := NewAdminPrivate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newSym(t testing.TB) SymmetricKey {
	t.Helper()
	k, err := NewSymmetricKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newRing(t testing.TB) GossipKeyring {
	t.Helper()
	r, err := NewGossipKeyring(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// testMaterial returns valid material for cluster at epoch n.
func testMaterial(t testing.TB, cluster ClusterID, n uint64) Material {
	t.Helper()
	return Material{ClusterID: cluster, Epoch: Epoch{Number: n, Key: newSym(t)}, Ring: newRing(t)}
}

func testCluster(t testing.TB) ClusterID {
	t.Helper()
	id, err := NewClusterID(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// testTime is a fixed issue time for records.
var testTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond) // polling interval, not a wait for an event
	}
}

// manualClock is a Clock that moves only when Advance is called.
type manualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*manualTimer
}

type manualTimer struct {
	c       *manualClock
	at      time.Time
	ch      chan time.Time
	stopped bool
	fired   bool
}

func newManualClock(now time.Time) *manualClock { return &manualClock{now: now} }

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{c: c, at: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.fired = true
		t.ch <- c.now
	} else {
		c.timers = append(c.timers, t)
	}
	return t
}

// Advance moves the clock and fires the timers that are due.
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.at.After(c.now):
			t.fired = true
			t.ch <- c.now
		default:
			keep = append(keep, t)
		}
	}
	c.timers = keep
}

// Pending returns the number of armed timers.
func (c *manualClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.stopped {
			n++
		}
	}
	return n
}

func (t *manualTimer) C() <-chan time.Time { return t.ch }

func (t *manualTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped && !t.fired
	t.stopped = true
	return was
}
