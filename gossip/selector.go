package gossip

import (
	"math"
	"slices"
	"time"
)

// selectTargets picks up to k of candidates for one fanout round.
//
// Without dist every pick is uniformly random. With dist (topology-aware),
// k-1 picks are drawn at random from the nearest members by estimated round
// trip (the nearest third, and at least 2(k-1) of them), and the last is
// uniformly random among all the others, so news still crosses to far
// parts of the cluster every round. Drawing from a pool rather than taking
// the k-1 nearest matters: an event is sent several times, and always to
// the same two nodes it would reach few distinct members, leaving some
// never contacted by gossip at all. Members without an estimate count as
// farthest; ties are broken randomly. candidates is reordered.
func selectTargets(candidates []string, k int, dist func(string) (time.Duration, bool), intn func(int) int) []string {
	if k <= 0 || len(candidates) == 0 {
		return nil
	}
	shuffle(candidates, intn)
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
	pool := min(max(2*(k-1), (len(candidates)+2)/3), len(candidates)-1)
	shuffle(candidates[:pool], intn)
	out := slices.Clone(candidates[:k-1])
	rest := candidates[k-1:]
	return append(out, rest[intn(len(rest))])
}

func shuffle(s []string, intn func(int) int) {
	for i := len(s) - 1; i > 0; i-- {
		j := intn(i + 1)
		s[i], s[j] = s[j], s[i]
	}
}
