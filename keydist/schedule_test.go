package keydist

import (
	"testing"
	"time"
)

func TestSchedule(t *testing.T) {
	last := testTime
	s, err := NewSchedule(0, 0, 0, last)
	if err != nil {
		t.Fatal(err)
	}
	next, why := s.Next()
	if !next.Equal(last.Add(DefaultRotationInterval)) || why != ReasonScheduled {
		t.Fatalf("first rotation %s (%s), want last+12h", next, why)
	}
	if s.Due(last.Add(DefaultRotationInterval-time.Nanosecond)) || !s.Due(last.Add(DefaultRotationInterval)) {
		t.Fatal("Due boundary wrong")
	}
	now := last.Add(time.Hour)
	s.Done(now, ReasonEviction)
	if next, why := s.Next(); !next.Equal(now.Add(DefaultPurgeDelay)) || why != ReasonPurge {
		t.Fatalf("after eviction: %s (%s), want the purge after %s", next, why, DefaultPurgeDelay)
	}
	s.Done(now, ReasonPurge)
	if next, why := s.Next(); !next.Equal(now.Add(DefaultRotationInterval)) || why != ReasonScheduled {
		t.Fatalf("after purge: %s (%s)", next, why)
	}
	s.Failed(now, ReasonEviction)
	if next, why := s.Next(); !next.Equal(now.Add(DefaultRetryDelay)) || why != ReasonEviction {
		t.Fatalf("after a failed eviction rotation: %s (%s), want a retried eviction", next, why)
	}
}

func TestScheduleBounds(t *testing.T) {
	if _, err := NewSchedule(time.Millisecond, 0, 0, testTime); err == nil {
		t.Fatal("accepted an interval below the minimum")
	}
	s, err := NewSchedule(time.Second, time.Hour, time.Hour, testTime)
	if err != nil {
		t.Fatal(err)
	}
	s.Done(testTime, ReasonEviction)
	if next, _ := s.Next(); !next.Equal(testTime.Add(time.Second)) {
		t.Fatalf("purge delay not capped at the interval: %s", next)
	}
}
