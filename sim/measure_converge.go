package sim

import (
	"fmt"
	"slices"
	"time"
)

// Convergence is how long one write took to reach fractions of the other
// members of the network, in virtual time. A fraction not reached before
// the timeout is -1.
type Convergence struct {
	P50, P99, P100 time.Duration
	// Reached is the fraction of the other members that got the write
	// before the timeout.
	Reached float64
}

// measureWrite has writer put a new entry in the probe table and times
// its arrival, by watch event, at every other live node.
func (c *cluster) measureWrite(writer *simNode, key string, timeout time.Duration) (Convergence, error) {
	want := len(c.live()) - 1
	a := c.obs.time(arrivalWrite, writer.name+"/"+key, writer.idx, want)
	if err := writer.db.Put(testNetwork, probeTable, key, []byte("v")); err != nil {
		c.obs.stopTiming(a)
		return Convergence{}, fmt.Errorf("sim: probe write: %w", err)
	}
	t := time.NewTimer(timeout)
	select {
	case <-a.done:
	case <-t.C:
	}
	t.Stop()
	return summarize(c.obs.stopTiming(a), want), nil
}

// summarize turns sorted arrival delays at want nodes into percentiles.
func summarize(at []time.Duration, want int) Convergence {
	if want == 0 {
		return Convergence{Reached: 1}
	}
	return Convergence{
		P50:     quantile(at, want, 0.50),
		P99:     quantile(at, want, 0.99),
		P100:    quantile(at, want, 1),
		Reached: float64(len(at)) / float64(want),
	}
}

// quantile is the delay by which a fraction q of want nodes had arrived
// (the ceil(q*want)-th arrival), or -1 if fewer did.
func quantile(sorted []time.Duration, want int, q float64) time.Duration {
	k := int(float64(want)*q + 0.999999)
	k = max(k, 1)
	if k > len(sorted) {
		return -1
	}
	return sorted[k-1]
}

// measureConvergence times trials writes from random writers, one at a
// time, with gap between them.
func (c *cluster) measureConvergence(trials int, gap, timeout time.Duration) ([]Convergence, error) {
	var out []Convergence
	for i := range trials {
		w := c.pick(1, nil)[0]
		cv, err := c.measureWrite(w, fmt.Sprintf("t%d", i), timeout)
		if err != nil {
			return out, err
		}
		out = append(out, cv)
		time.Sleep(gap)
	}
	return out, nil
}

// ConvergenceSummary is the median of each percentile over trials, and
// the worst 100% time.
type ConvergenceSummary struct {
	Trials         int
	P50, P99, P100 time.Duration // medians over trials
	WorstP100      time.Duration // -1 if some trial never reached all
	MinReached     float64
}

func summarizeTrials(cs []Convergence) ConvergenceSummary {
	s := ConvergenceSummary{Trials: len(cs), MinReached: 1}
	if len(cs) == 0 {
		return s
	}
	pick := func(f func(Convergence) time.Duration) []time.Duration {
		out := make([]time.Duration, len(cs))
		for i, c := range cs {
			out[i] = f(c)
			if out[i] < 0 {
				out[i] = time.Duration(1<<63 - 1) // never: sorts last
			}
		}
		slices.Sort(out)
		return out
	}
	med := func(v []time.Duration) time.Duration {
		m := v[(len(v)-1)/2]
		if m == time.Duration(1<<63-1) {
			return -1
		}
		return m
	}
	s.P50 = med(pick(func(c Convergence) time.Duration { return c.P50 }))
	s.P99 = med(pick(func(c Convergence) time.Duration { return c.P99 }))
	p100 := pick(func(c Convergence) time.Duration { return c.P100 })
	s.P100 = med(p100)
	s.WorstP100 = p100[len(p100)-1]
	if s.WorstP100 == time.Duration(1<<63-1) {
		s.WorstP100 = -1
	}
	for _, c := range cs {
		s.MinReached = min(s.MinReached, c.Reached)
	}
	return s
}
