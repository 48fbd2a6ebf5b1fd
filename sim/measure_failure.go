package sim

import (
	"slices"
	"time"
)

// Detection is how one crash was noticed.
type Detection struct {
	// First and All are how long after the crash the first and the last
	// live member marked the crashed node failed; All is -1 if some
	// member had not before the next crash (or the window's end).
	First, All time.Duration
	// Marked is the fraction of live members that marked it failed.
	Marked float64
}

// FailureRun is a series of crashes under one packet loss rate.
type FailureRun struct {
	Loss    float64
	Crashes []Detection
	// First and All are the medians over the crashes (All is -1 if the
	// median crash was not marked by everyone); Earliest is the soonest
	// any member marked any crash failed, Worst the longest any crash
	// took to be marked by all (-1 if one never was); Marked is the
	// least fraction of members that marked a crash.
	First, All, Earliest, Worst time.Duration
	Marked                      float64
	// Window is how long false positives were counted; FalsePositives is
	// how many times a live node was declared failed by another, and
	// Victims how many distinct live nodes that happened to.
	Window         time.Duration
	FalsePositives int
	Victims        int
}

// measureFailure sets the loss rate and crashes random nodes one after
// another, crashes of them evenly spread over window, timing how long
// every other live node takes to mark each failed, while counting false
// positives over the whole window. Loss is removed afterwards.
func (c *cluster) measureFailure(loss float64, crashes int, window time.Duration) FailureRun {
	r := FailureRun{Loss: loss, Window: window}
	if loss > 0 {
		c.net.SetLoss(func(from, to string) float64 { return loss })
		defer c.net.SetLoss(nil)
	}
	start := time.Now()
	fp := c.obs.falsePositiveCount()
	for i := range crashes {
		next := start.Add(window * time.Duration(i+1) / time.Duration(crashes))
		r.Crashes = append(r.Crashes, c.crashAndTime(time.Until(next)))
		if rest := time.Until(next); rest > 0 {
			time.Sleep(rest)
		}
	}
	r.summarize()
	fps := c.obs.falsePositives(fp)
	r.FalsePositives = len(fps)
	victims := map[string]bool{}
	for _, f := range fps {
		victims[f.subject] = true
	}
	r.Victims = len(victims)
	return r
}

// crashAndTime crashes a random live node and times its detection for
// at most limit.
func (c *cluster) crashAndTime(limit time.Duration) Detection {
	d := Detection{All: -1}
	victim := c.pick(1, nil)[0]
	want := len(c.live()) - 1
	a := c.obs.time(arrivalFailure, victim.name, -1, want)
	c.crash(victim)
	t := time.NewTimer(limit)
	select {
	case <-a.done:
	case <-t.C:
	}
	t.Stop()
	at := c.obs.stopTiming(a)
	if len(at) > 0 {
		d.First = at[0]
	}
	if len(at) == want {
		d.All = at[len(at)-1]
	}
	d.Marked = float64(len(at)) / float64(max(want, 1))
	return d
}

// summarize fills the medians and extremes from r.Crashes; a crash not
// marked by everyone counts as the slowest.
func (r *FailureRun) summarize() {
	if len(r.Crashes) == 0 {
		r.All, r.Worst = -1, -1
		return
	}
	never := time.Duration(1<<63 - 1)
	var firsts, alls []time.Duration
	r.Marked = 1
	for _, d := range r.Crashes {
		if d.Marked > 0 {
			firsts = append(firsts, d.First)
		}
		all := d.All
		if all < 0 {
			all = never
		}
		alls = append(alls, all)
		r.Marked = min(r.Marked, d.Marked)
	}
	slices.Sort(firsts)
	slices.Sort(alls)
	r.First, r.Earliest = -1, -1
	if len(firsts) > 0 {
		r.First, r.Earliest = firsts[len(firsts)/2], firsts[0]
	}
	r.All, r.Worst = alls[len(alls)/2], alls[len(alls)-1]
	if r.All == never {
		r.All = -1
	}
	if r.Worst == never {
		r.Worst = -1
	}
}
