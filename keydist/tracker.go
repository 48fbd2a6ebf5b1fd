package keydist

import (
	"fmt"
	"sync"
)

// Tracker remembers the highest key record sequence accepted per cluster and
// rejects anything not newer, so an old record replayed by anyone cannot roll
// keys back. Feed it only records whose signature has been verified, or a
// forged high number would lock out the real admin. Safe for concurrent use.
type Tracker struct {
	mu   sync.Mutex
	high map[ClusterID]uint64
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker { return &Tracker{high: make(map[ClusterID]uint64)} }

// Check returns ErrReplayed if seq is not above the highest accepted for
// cluster.
func (t *Tracker) Check(cluster ClusterID, seq uint64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.checkLocked(cluster, seq)
}

func (t *Tracker) checkLocked(cluster ClusterID, seq uint64) error {
	if h := t.high[cluster]; seq <= h {
		return fmt.Errorf("cluster %s: record seq %d, already accepted seq %d: %w", cluster, seq, h, ErrReplayed)
	}
	return nil
}

// Accept records seq as the highest for cluster, or returns ErrReplayed
// (changing nothing) if it is not newer.
func (t *Tracker) Accept(cluster ClusterID, seq uint64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.checkLocked(cluster, seq); err != nil {
		return err
	}
	t.high[cluster] = seq
	return nil
}

// Highest returns the highest sequence accepted for cluster (0 if none).
func (t *Tracker) Highest(cluster ClusterID) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.high[cluster]
}
