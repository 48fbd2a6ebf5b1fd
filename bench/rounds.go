package main

import (
	"cmp"
	"slices"
	"strings"
)

// combineRounds merges one subject's results from several rounds into one:
// each figure comes from the round with the median value of it (the lower
// middle one for an even count, so it is always a measured run), except
// peak memory, which is the largest seen. A round disturbed by other work
// on the machine then does not decide a ratio.
func combineRounds(rs []subjectResult) subjectResult {
	if len(rs) == 1 {
		return rs[0]
	}
	out := rs[0]
	out.Skipped, out.Error, out.Duration = "", "", 0
	var errs []string
	var ran []subjectResult
	var loads, others []float64
	out.BusyRounds = 0
	for _, r := range rs {
		out.Duration += r.Duration
		out.BusyRounds += r.BusyRounds
		switch {
		case r.Skipped != "":
			out.Skipped = r.Skipped
			continue
		case r.Error != "":
			errs = append(errs, r.Error)
		}
		ran = append(ran, r)
		loads = append(loads, r.LoadAvg)
		others = append(others, r.OtherCPU)
	}
	if len(ran) == 0 {
		return out
	}
	// Ran at least once: a round that skipped (say, interrupted) does not
	// make the subject unavailable.
	out.Skipped = ""
	if len(errs) > 0 {
		out.Error = strings.Join(slices.Compact(errs), "; ")
	}
	out.LoadAvg, out.OtherCPU = medianOf(loads), medianOf(others)
	out.Ping = pickMedian(ran, func(r subjectResult) *pingResult { return r.Ping }, func(p *pingResult) float64 { return p.MedianMs })
	out.TCP1 = pickMedian(ran, func(r subjectResult) *tcpResult { return r.TCP1 }, func(t *tcpResult) float64 { return t.BitsPerSecond })
	out.TCPN = pickMedian(ran, func(r subjectResult) *tcpResult { return r.TCPN }, func(t *tcpResult) float64 { return t.BitsPerSecond })
	out.UDP = pickMedian(ran, func(r subjectResult) *udpResult { return r.UDP }, func(u *udpResult) float64 { return u.PacketsPerSecond })
	if ov := pickMedian(ran, func(r subjectResult) *usage { return r.Overlay }, func(u *usage) float64 { return u.CPUSecondsPerGB }); ov != nil {
		c := *ov
		for _, r := range ran {
			if r.Overlay != nil {
				c.PeakRSS = max(c.PeakRSS, r.Overlay.PeakRSS)
				c.IdleRSS = max(c.IdleRSS, r.Overlay.IdleRSS)
				c.IdleAnon = max(c.IdleAnon, r.Overlay.IdleAnon)
			}
		}
		out.Overlay = &c
	}
	out.System = pickMedian(ran, func(r subjectResult) *systemUsage { return r.System }, func(u *systemUsage) float64 { return u.CPUSecondsPerGB })
	return out
}

// pickMedian returns the figure with the median key among the rounds that
// have one, nil if none has.
func pickMedian[T any](rs []subjectResult, get func(subjectResult) *T, key func(*T) float64) *T {
	var have []*T
	for _, r := range rs {
		if v := get(r); v != nil {
			have = append(have, v)
		}
	}
	if len(have) == 0 {
		return nil
	}
	slices.SortStableFunc(have, func(a, b *T) int { return cmp.Compare(key(a), key(b)) })
	return have[(len(have)-1)/2]
}

func medianOf(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}
