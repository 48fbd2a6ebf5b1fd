package gossip

import (
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// With the production defaults (200ms gossip, 30s bulk sync, memberlist's
// LAN timings) on a 1ms network: how fast does a write reach 20 nodes, and
// what does an idle node cost on the wire?
func TestFiguresWithDefaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 0, nil)
		c.net.SetLatency(func(from, to string) time.Duration { return time.Millisecond })
		for i := range 20 {
			c.startWith(fmt.Sprintf("mngsp-n%02d", i), func(cfg *Config) {
				d := DefaultConfig()
				cfg.GossipInterval, cfg.BulkSyncInterval, cfg.TombstoneTTL = d.GossipInterval, d.BulkSyncInterval, d.TombstoneTTL
				cfg.Tune = nil
			})
		}
		c.joinAll()
		for _, n := range c.names {
			mustOK(t, c.nodes[n].JoinNetwork("blue"))
			for i := range 5 {
				mustOK(t, c.nodes[n].Put("blue", "ep", fmt.Sprintf("%s-%d", n, i), []byte("02:42:ac:11:00:02")))
			}
		}
		c.waitNetworkMembers("blue", c.names)
		// Writes made while the membership of blue was still spreading may
		// wait for a bulk-sync round (30s) to reach everyone.
		waitFor(t, 2*time.Minute, func() error {
			for _, d := range c.live() {
				if got := len(dump(d, "blue", "ep")); got != 100 {
					return fmt.Errorf("%s has %d of 100", d.LocalName(), got)
				}
			}
			return nil
		})

		// Gossip carries the typical write; a member that the epidemic
		// happened to miss (rare) gets it at the next bulk sync.
		var took []time.Duration
		for round := range 9 {
			writer := c.nodes[c.names[round*2]]
			start := time.Now()
			mustOK(t, writer.Put("blue", "probe", "k", fmt.Appendf(nil, "%d", round)))
			waitFor(t, 2*DefaultBulkSyncInterval, func() error {
				for _, d := range c.live() {
					if v, _ := lookupValue(d, "blue", "probe", "k", writer.LocalName()); v != fmt.Sprint(round) {
						return fmt.Errorf("%s lacks it", d.LocalName())
					}
				}
				return nil
			})
			took = append(took, time.Since(start))
		}
		slices.Sort(took)
		median, worst := took[len(took)/2], took[len(took)-1]
		if median > 1500*time.Millisecond {
			t.Errorf("median write took %v to reach all 20 nodes with 200ms gossip", median)
		}
		if worst > DefaultBulkSyncInterval+5*time.Second {
			t.Errorf("a write took %v, longer than a bulk-sync round", worst)
		}

		time.Sleep(10 * time.Second)
		before := map[string]uint64{}
		for _, n := range c.names {
			before[n] = c.net.Counters(n).BytesSent()
		}
		const idle = 120 * time.Second
		time.Sleep(idle)
		var total uint64
		for _, n := range c.names {
			total += c.net.Counters(n).BytesSent() - before[n]
		}
		t.Logf("20 nodes, 1ms links, defaults: a write reached all in %v (median), %v (worst of %d); idle with 100 entries a node sends %.0f B/s (memberlist included)",
			median, worst, len(took), float64(total)/20/idle.Seconds())
		c.stop()
	})
}
