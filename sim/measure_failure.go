package sim

import (
	"time"
)

// FailureRun is one crash under one packet loss rate.
type FailureRun struct {
	Loss float64
	// First and All are how long after the crash the first and the last
	// live member marked the crashed node failed; All is -1 if some
	// member had not by the end of the window.
	First, All time.Duration
	// Marked is the fraction of live members that marked it failed.
	Marked float64
	// Window is how long false positives were counted; FalsePositives is
	// how many times a live node was declared failed by another, and
	// Victims how many distinct live nodes that happened to.
	Window         time.Duration
	FalsePositives int
	Victims        int
}

// measureFailure sets the loss rate, crashes a random node at once and
// times how long every other live node takes to mark it failed, while
// counting false positives for window. Loss is removed afterwards.
func (c *cluster) measureFailure(loss float64, window time.Duration) FailureRun {
	r := FailureRun{Loss: loss, Window: window, All: -1}
	if loss > 0 {
		c.net.SetLoss(func(from, to string) float64 { return loss })
		defer c.net.SetLoss(nil)
	}
	start := time.Now()
	fp := c.obs.falsePositiveCount()
	victim := c.pick(1, nil)[0]
	want := len(c.live()) - 1
	a := c.obs.time(arrivalFailure, victim.name, -1, want)
	c.crash(victim)
	t := time.NewTimer(window)
	select {
	case <-a.done:
	case <-t.C:
	}
	t.Stop()
	at := c.obs.stopTiming(a)
	if len(at) > 0 {
		r.First = at[0]
	}
	if len(at) == want {
		r.All = at[len(at)-1]
	}
	r.Marked = float64(len(at)) / float64(max(want, 1))
	if rest := window - time.Since(start); rest > 0 {
		time.Sleep(rest)
	}
	fps := c.obs.falsePositives(fp)
	r.FalsePositives = len(fps)
	victims := map[string]bool{}
	for _, f := range fps {
		victims[f.subject] = true
	}
	r.Victims = len(victims)
	return r
}
