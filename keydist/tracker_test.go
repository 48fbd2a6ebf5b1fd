package keydist

import (
	"errors"
	"testing"
)

func TestTracker(t *testing.T) {
	tr := NewTracker()
	a, b := testCluster(t), testCluster(t)
	if err := tr.Accept(a, 0); !errors.Is(err, ErrReplayed) {
		t.Fatalf("seq 0 accepted: %v", err)
	}
	for _, s := range []uint64{1, 2, 10} {
		if err := tr.Accept(a, s); err != nil {
			t.Fatalf("Accept(%d): %v", s, err)
		}
	}
	for _, s := range []uint64{10, 9, 1} {
		if err := tr.Check(a, s); !errors.Is(err, ErrReplayed) {
			t.Fatalf("Check(%d) after 10: %v", s, err)
		}
		if err := tr.Accept(a, s); !errors.Is(err, ErrReplayed) {
			t.Fatalf("Accept(%d) after 10: %v", s, err)
		}
	}
	if tr.Highest(a) != 10 {
		t.Fatalf("Highest = %d after rejected replays", tr.Highest(a))
	}
	if err := tr.Accept(b, 3); err != nil {
		t.Fatalf("clusters are not independent: %v", err)
	}
}
