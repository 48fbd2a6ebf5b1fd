package gossip

import (
	"math"
	"slices"
	"time"
)

// selectTargets picks up to k of candidates for one fanout round.
//
// Without dist every pick is uniformly random. With dist (topology-aware),
// k-1 picks are the nearest members by estimated round trip and the last is
// uniformly random among the others, so news still crosses to far parts of
// the cluster every round. Members without an estimate count as farthest;
// candidates are shuffled first so that ties are broken randomly.
// candidates is reordered.
func selectTargets(candidates []string, k int, dist func(string) (time.Duration, bool), intn func(int) int) []string {
	if k <= 0 || len(candidates) == 0 {
		return nil
	}
	for i := len(candidates) - 1; i > 0; i-- {
		j := intn(i + 1)
		candidates[i], candidates[j] = candidates[j], candidates[i]
	}
	if k >= len(candidates) {
		return slices.Clone(candidates)
	}
	if dist == nil {
		return slices.Clone(candidates[:k])
	}
	d := make(map[string]time.Duration, len(candidates))
	for _, c := range candidates {
		if v, ok := dist(c); ok {
			d[c] = v
		} else {
			d[c] = math.MaxInt64
		}
	}
	slices.SortStableFunc(candidates, func(a, b string) int {
		switch {
		case d[a] < d[b]:
			return -1
		case d[a] > d[b]:
			return 1
		}
		return 0
	})
	out := slices.Clone(candidates[:k-1])
	rest := candidates[k-1:]
	return append(out, rest[intn(len(rest))])
}
