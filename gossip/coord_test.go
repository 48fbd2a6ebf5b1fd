package gossip

import (
	"testing"
	"time"
)

func TestClockSkewEstimate(t *testing.T) {
	base := time.Unix(1_800_000_000, 0)
	ours := func() time.Time { return base }
	theirs := func() time.Time { return base.Add(90 * time.Second) }
	a, _ := newVivaldi(ours)
	b, _ := newVivaldi(theirs)
	if err := a.observe("b", 10*time.Millisecond, b.payload()); err != nil {
		t.Fatal(err)
	}
	skew, ok := a.clockSkew("b")
	if !ok || skew < 89*time.Second || skew > 91*time.Second {
		t.Fatalf("skew %v %v, want about 90s", skew, ok)
	}
}

func TestVivaldiObserve(t *testing.T) {
	a, _ := newVivaldi(time.Now)
	b, _ := newVivaldi(time.Now)
	if _, ok := a.distance("b"); ok {
		t.Fatal("estimate before any observation")
	}
	for range 20 {
		if err := a.observe("b", 20*time.Millisecond, b.payload()); err != nil {
			t.Fatal(err)
		}
		if err := b.observe("a", 20*time.Millisecond, a.payload()); err != nil {
			t.Fatal(err)
		}
	}
	d, ok := a.distance("b")
	if !ok || d < 5*time.Millisecond || d > 60*time.Millisecond {
		t.Errorf("estimate %v %v, want about 20ms", d, ok)
	}
	if err := a.observe("c", time.Millisecond, []byte{1, 2, 3}); err == nil {
		t.Error("garbage payload accepted")
	}
	a.forget("b")
	if _, ok := a.distance("b"); ok {
		t.Error("estimate survived forget")
	}
}
