package keydist

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// rotationLog records the rotator's calls.
type rotationLog struct {
	mu      sync.Mutex
	reasons []Reason
	fail    int // fail this many calls first
}

func (l *rotationLog) rotate(_ context.Context, r Reason) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reasons = append(l.reasons, r)
	if l.fail > 0 {
		l.fail--
		return errors.New("publish failed")
	}
	return nil
}

func (l *rotationLog) get() []Reason {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Reason(nil), l.reasons...)
}

func newTestRotator(t *testing.T, clock *manualClock, log *rotationLog) *Rotator {
	t.Helper()
	r, err := NewRotator(RotatorConfig{
		Interval:   time.Hour,
		PurgeDelay: time.Minute,
		RetryDelay: 10 * time.Second,
		Last:       clock.Now(),
		Clock:      clock,
		Rotate:     log.rotate,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// advanceWhenArmed waits for the rotator to arm its timer, then moves the
// clock.
func advanceWhenArmed(t *testing.T, c *manualClock, d time.Duration) {
	t.Helper()
	waitFor(t, "the rotator to arm its timer", func() bool { return c.Pending() == 1 })
	c.Advance(d)
}

func TestRotatorSchedule(t *testing.T) {
	clock := newManualClock(testTime)
	log := &rotationLog{}
	newTestRotator(t, clock, log)
	advanceWhenArmed(t, clock, 59*time.Minute)
	advanceWhenArmed(t, clock, time.Minute)
	waitFor(t, "the scheduled rotation", func() bool { return len(log.get()) == 1 })
	if got := log.get(); got[0] != ReasonScheduled {
		t.Fatalf("reason %s", got[0])
	}
	// Not before another full interval.
	advanceWhenArmed(t, clock, time.Hour-time.Second)
	advanceWhenArmed(t, clock, time.Second)
	waitFor(t, "the second rotation", func() bool { return len(log.get()) == 2 })
}

func TestRotatorEvictionThenPurge(t *testing.T) {
	clock := newManualClock(testTime)
	log := &rotationLog{}
	r := newTestRotator(t, clock, log)
	waitFor(t, "the rotator to start", func() bool { return clock.Pending() == 1 })
	r.Trigger(ReasonEviction)
	waitFor(t, "the eviction rotation", func() bool { return len(log.get()) == 1 })
	if got := log.get()[0]; got != ReasonEviction || !got.Emergency() {
		t.Fatalf("reason %s, want an emergency eviction rotation", got)
	}
	advanceWhenArmed(t, clock, time.Minute)
	waitFor(t, "the purge", func() bool { return len(log.get()) == 2 })
	if got := log.get()[1]; got != ReasonPurge || got.Emergency() {
		t.Fatalf("follow-up reason %s, want a regular purge", got)
	}
}

func TestRotatorTriggersCoalesceToStrongest(t *testing.T) {
	clock := newManualClock(testTime)
	log := &rotationLog{}
	// Hold the rotator inside a rotation while triggers pile up.
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	first := true
	r, err := NewRotator(RotatorConfig{Interval: time.Hour, Last: clock.Now(), Clock: clock, Rotate: func(ctx context.Context, why Reason) error {
		if first {
			first = false
			entered <- struct{}{}
			<-release
		}
		return log.rotate(ctx, why)
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.Trigger(ReasonOnDemand)
	<-entered
	r.Trigger(ReasonOnDemand)
	r.Trigger(ReasonEviction)
	r.Trigger(ReasonOnDemand)
	close(release)
	waitFor(t, "two rotations", func() bool { return len(log.get()) == 2 })
	if got := log.get(); got[0] != ReasonOnDemand || got[1] != ReasonEviction {
		t.Fatalf("reasons %v, want on demand then one eviction", got)
	}
	waitFor(t, "the rotator to go idle", func() bool { return clock.Pending() == 1 })
	if n := len(log.get()); n != 2 {
		t.Fatalf("%d rotations, want the pending triggers coalesced into one", n)
	}
}

func TestRotatorRetriesFailures(t *testing.T) {
	clock := newManualClock(testTime)
	log := &rotationLog{fail: 2}
	r := newTestRotator(t, clock, log)
	waitFor(t, "the rotator to start", func() bool { return clock.Pending() == 1 })
	r.Trigger(ReasonEviction)
	waitFor(t, "the failed attempt", func() bool { return len(log.get()) == 1 })
	advanceWhenArmed(t, clock, 10*time.Second)
	waitFor(t, "the first retry", func() bool { return len(log.get()) == 2 })
	advanceWhenArmed(t, clock, 10*time.Second)
	waitFor(t, "the second retry", func() bool { return len(log.get()) == 3 })
	for i, got := range log.get() {
		if got != ReasonEviction {
			t.Fatalf("attempt %d reason %s: a retried eviction must stay an emergency", i, got)
		}
	}
}

func TestRotatorCloseCancelsAndStops(t *testing.T) {
	clock := newManualClock(testTime)
	entered := make(chan struct{})
	cancelled := make(chan struct{})
	r, err := NewRotator(RotatorConfig{Last: clock.Now(), Clock: clock, Rotate: func(ctx context.Context, _ Reason) error {
		close(entered)
		<-ctx.Done()
		close(cancelled)
		return ctx.Err()
	}})
	if err != nil {
		t.Fatal(err)
	}
	r.Trigger(ReasonOnDemand)
	<-entered
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cancelled:
	default:
		t.Fatal("Close returned before the rotation in progress was cancelled")
	}
	select {
	case <-r.done:
	default:
		t.Fatal("the rotator goroutine is still running after Close")
	}
}

func TestRotatorConfig(t *testing.T) {
	if _, err := NewRotator(RotatorConfig{}); err == nil {
		t.Fatal("accepted a config without Rotate")
	}
	if _, err := NewRotator(RotatorConfig{Interval: time.Millisecond, Rotate: (&rotationLog{}).rotate}); err == nil {
		t.Fatal("accepted an interval below the minimum")
	}
}
