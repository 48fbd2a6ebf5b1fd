package keydist

import (
	"fmt"
	"time"
)

// Rotation schedule defaults and bounds.
const (
	// DefaultRotationInterval is how often keys rotate: often enough that a
	// leaked key is short-lived, rarely enough that a node offline for a
	// while still holds a key the others accept.
	DefaultRotationInterval = 12 * time.Hour
	// MinRotationInterval is the shortest interval accepted (for tests); in
	// production the interval must exceed the time a record takes to reach
	// every node.
	MinRotationInterval = time.Second
	// DefaultPurgeDelay is how long after an eviction's emergency rotation
	// the follow-up rotation drops the last key the evicted node knew: long
	// enough for the emergency record to reach every live node.
	DefaultPurgeDelay = time.Minute
	// DefaultRetryDelay is how soon a failed rotation is retried.
	DefaultRetryDelay = 30 * time.Second
)

// Reason says why a rotation runs. Higher values take precedence when
// requests coalesce.
type Reason int

// Rotation reasons.
const (
	// ReasonScheduled: the interval elapsed.
	ReasonScheduled Reason = iota + 1
	// ReasonPurge: the follow-up after an eviction.
	ReasonPurge
	// ReasonOnDemand: an operator asked (`meshnet keys rotate`).
	ReasonOnDemand
	// ReasonEviction: a node was evicted; the rotation is an emergency one.
	ReasonEviction
)

// Emergency reports whether the rotation must replace the primary at once
// (Issuer.Rotate's emergency flag).
func (r Reason) Emergency() bool { return r == ReasonEviction }

// String names the reason for logs.
func (r Reason) String() string {
	switch r {
	case ReasonScheduled:
		return "scheduled"
	case ReasonPurge:
		return "eviction purge"
	case ReasonOnDemand:
		return "on demand"
	case ReasonEviction:
		return "eviction"
	}
	return fmt.Sprintf("reason(%d)", int(r))
}

// Schedule decides when the admin node rotates next. It is plain logic with
// no clock or goroutine of its own; Rotator drives it. Not safe for
// concurrent use.
type Schedule struct {
	interval, purgeDelay, retryDelay time.Duration

	next   time.Time
	reason Reason
}

// NewSchedule returns a schedule whose last rotation was at last (the
// issuer's KeysIssuedAt). Zero durations take the defaults; the purge delay
// is capped at the interval.
func NewSchedule(interval, purgeDelay, retryDelay time.Duration, last time.Time) (*Schedule, error) {
	if interval == 0 {
		interval = DefaultRotationInterval
	}
	if interval < MinRotationInterval {
		return nil, fmt.Errorf("rotation interval %s is shorter than the minimum %s", interval, MinRotationInterval)
	}
	if purgeDelay <= 0 {
		purgeDelay = DefaultPurgeDelay
	}
	if retryDelay <= 0 {
		retryDelay = DefaultRetryDelay
	}
	s := &Schedule{interval: interval, purgeDelay: min(purgeDelay, interval), retryDelay: min(retryDelay, interval)}
	s.next, s.reason = last.Add(interval), ReasonScheduled
	return s, nil
}

// Next returns when the next rotation is due and why.
func (s *Schedule) Next() (time.Time, Reason) { return s.next, s.reason }

// Due reports whether a rotation is due at now.
func (s *Schedule) Due(now time.Time) bool { return !now.Before(s.next) }

// Done records a successful rotation at now for reason r: after an eviction
// the purge follows after the purge delay, otherwise the next regular
// rotation after the interval.
func (s *Schedule) Done(now time.Time, r Reason) {
	if r.Emergency() {
		s.next, s.reason = now.Add(s.purgeDelay), ReasonPurge
		return
	}
	s.next, s.reason = now.Add(s.interval), ReasonScheduled
}

// Failed records a failed rotation for reason r at now: it is retried after
// the retry delay, keeping the stronger of r and the pending reason.
func (s *Schedule) Failed(now time.Time, r Reason) {
	s.next = now.Add(s.retryDelay)
	s.reason = max(s.reason, r)
}
