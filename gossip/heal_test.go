package gossip

import (
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/memberlist"
)

// A network join that half the nodes never hear about by gossip (neither
// our fanout nor memberlist's push/pull) must still heal: membership
// travels in every bulk sync of the network.
func TestMissedNetworkJoinHealsByBulkSync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 20, readablePackets)
		x := c.names[19]
		deaf := c.names[10:19]
		c.joinAll()
		members := c.names[:19]
		for _, n := range members {
			mustOK(t, c.nodes[n].JoinNetwork("blue"))
		}
		c.waitNetworkMembers("blue", members)
		time.Sleep(3 * time.Second) // let the syncs of blue's formation finish

		// The deaf nodes lose every packet that gossips x's join, and every
		// membership digest they send or get, so no push/pull brings them
		// the join either.
		var dropped atomic.Int64
		c.net.SetFilter(func(from, to string, packet []byte) bool {
			msg := gossipPayload(packet)
			switch {
			case msg == nil:
				return true
			case slices.Contains(deaf, to) && carriesRecord(msg, x, "blue"):
				dropped.Add(1)
				return false
			case isMembershipDigest(msg):
				return !slices.Contains(deaf, to) && !slices.Contains(deaf, from)
			}
			return true
		})
		start := time.Now()
		mustOK(t, c.nodes[x].JoinNetwork("blue"))
		c.waitNetworkMembers("blue", c.names)
		t.Logf("missed join healed on all nodes in %v (virtual)", time.Since(start))
		if dropped.Load() == 0 {
			t.Fatal("no gossip about the join was on its way to the deaf nodes")
		}
		// Entries flow both ways with the node whose join was missed.
		mustOK(t, c.nodes[deaf[0]].Put("blue", "ep", "from-deaf", []byte("1")))
		mustOK(t, c.nodes[x].Put("blue", "ep", "from-x", []byte("2")))
		c.waitConverged("blue", []string{"ep"}, 2)
		c.stop()
	})
}

// Wall clocks far apart don't matter: order comes from Lamport times, and
// tombstones carry remaining lifetimes, not deadlines.
func TestSkewedWallClocksConverge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ttl = 20 * time.Second
		skew := map[string]time.Duration{}
		c := newCluster(t, 0, nil)
		for i := range 20 {
			name := fmt.Sprintf("mngsp-n%02d", i)
			skew[name] = time.Duration(i%3-1) * 10 * 365 * 24 * time.Hour // -10y, 0, +10y
			c.startWith(name, func(cfg *Config) {
				off := skew[name]
				cfg.Now = func() time.Time { return time.Now().Add(off) }
				cfg.TombstoneTTL = ttl
			})
		}
		c.joinAll()
		for _, n := range c.names {
			mustOK(t, c.nodes[n].JoinNetwork("blue"))
			mustOK(t, c.nodes[n].Put("blue", "ep", n, []byte("v1")))
		}
		c.waitConverged("blue", []string{"ep"}, 20)
		for i, n := range c.names {
			switch i % 4 {
			case 0:
				mustOK(t, c.nodes[n].Put("blue", "ep", n, []byte("v2")))
				mustOK(t, c.nodes[n].Put("blue", "ep", n, []byte("v3")))
			case 1:
				mustOK(t, c.nodes[n].Delete("blue", "ep", n))
			}
		}
		deletedAt := time.Now()
		waitFor(t, 10*time.Second, func() error {
			for _, d := range c.live() {
				for i, n := range c.names {
					v, ok := lookupValue(d, "blue", "ep", n, n)
					switch {
					case i%4 == 0 && v != "v3":
						return fmt.Errorf("%s sees %s=%q, want the last write v3", d.LocalName(), n, v)
					case i%4 == 1 && ok:
						return fmt.Errorf("%s still sees deleted %s", d.LocalName(), n)
					case i%4 > 1 && v != "v1":
						return fmt.Errorf("%s sees %s=%q, want v1", d.LocalName(), n, v)
					}
				}
			}
			return nil
		})
		// Tombstones live about TombstoneTTL on every node, skewed or not.
		time.Sleep(ttl/2 - time.Since(deletedAt))
		for _, d := range c.live() {
			if got := d.Stats().Entries["blue"]; got != 20 {
				t.Errorf("%s (clock %+v) holds %d records halfway through the tombstones' life, want 20", d.LocalName(), skew[d.LocalName()], got)
			}
		}
		waitFor(t, ttl, func() error {
			for _, d := range c.live() {
				if got := d.Stats().Entries["blue"]; got != 15 {
					return fmt.Errorf("%s (clock %+v) holds %d records, want 15", d.LocalName(), skew[d.LocalName()], got)
				}
			}
			return nil
		})
		if gone := time.Since(deletedAt); gone > ttl+5*time.Second {
			t.Errorf("tombstones lived %v, want about %v", gone, ttl)
		}
		c.stop()
	})
}

// Vivaldi estimates come from real probe round trips and separate near
// from far nodes.
func TestVivaldiEstimates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 12, func(cfg *Config) {
			cfg.BulkSyncInterval = time.Hour // gossip alone must cross sites
			cfg.Tune = func(mc *memberlist.Config) {
				fastMemberlist(mc)
				// Probes must outlast the 80ms cross-site round trip, or
				// they time out and measure nothing.
				mc.ProbeTimeout = 200 * time.Millisecond
				mc.ProbeInterval = 300 * time.Millisecond
			}
		})
		site := func(name string) int { return int(name[len(name)-1]-'0') % 2 }
		c.net.SetLatency(func(from, to string) time.Duration {
			if site(from) == site(to) {
				return 2 * time.Millisecond
			}
			return 40 * time.Millisecond
		})
		c.joinAll()
		time.Sleep(20 * time.Second)
		for _, d := range c.live() {
			var near, far []time.Duration
			for _, n := range c.names {
				if n == d.LocalName() {
					continue
				}
				rtt, ok := d.RTT(n)
				if !ok || rtt <= 0 {
					t.Fatalf("%s has no estimate for %s (%v)", d.LocalName(), n, rtt)
				}
				if site(n) == site(d.LocalName()) {
					near = append(near, rtt)
				} else {
					far = append(far, rtt)
				}
			}
			// Medians: one peer's estimate still settling (once in ~1,500
			// runs) must not hide that the rest are right.
			if median(near)*3 > median(far) {
				t.Errorf("%s: near peers %v, far peers %v (medians %v, %v): want far clearly farther (true RTTs 4ms and 80ms)", d.LocalName(), near, far, median(near), median(far))
			}
		}
		n0 := c.nodes[c.names[0]]
		near, _ := n0.RTT(c.names[2])
		far, _ := n0.RTT(c.names[1])
		t.Logf("estimates from %s: same site %v, other site %v (true 4ms and 80ms)", c.names[0], near, far)

		// Topology-aware fanout still crosses to the far site quickly.
		for _, n := range c.names {
			mustOK(t, c.nodes[n].JoinNetwork("blue"))
		}
		c.waitNetworkMembers("blue", c.names)
		for round := range 5 {
			start := time.Now()
			mustOK(t, n0.Put("blue", "ep", fmt.Sprint(round), []byte("v")))
			c.waitConverged("blue", []string{"ep"}, round+1)
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("write %d took %v to reach both sites by gossip", round, took)
			}
		}
		c.stop()
	})
}

func median(ds []time.Duration) time.Duration {
	s := slices.Sorted(slices.Values(ds))
	return s[len(s)/2]
}

// A node joining a network that already holds 10,000 entries gets them by
// one bulk sync right away, not by waiting for gossip or the next round.
func TestJoinNetworkWithManyEntries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 4, func(cfg *Config) { cfg.BulkSyncInterval = time.Hour })
		c.joinAll()
		owner := c.nodes[c.names[0]]
		mustOK(t, owner.JoinNetwork("big"))
		mustOK(t, c.nodes[c.names[1]].JoinNetwork("big"))
		for i := range 10000 {
			mustOK(t, owner.Put("big", "ep", fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255), []byte("02:42:ac:11:00:02")))
		}
		c.waitNetworkMembers("big", c.names[:2])
		newcomer := c.nodes[c.names[3]]
		before := newcomer.Stats()
		start := time.Now()
		mustOK(t, newcomer.JoinNetwork("big"))
		waitFor(t, 30*time.Second, func() error {
			if got := len(dump(newcomer, "big", "ep")); got != 10000 {
				return fmt.Errorf("newcomer has %d of 10000", got)
			}
			return nil
		})
		after := newcomer.Stats()
		got := after.Received["bulk-sync"].Bytes - before.Received["bulk-sync"].Bytes
		t.Logf("10,000 entries reached a joining node in %v (virtual); %d bulk-sync bytes (%d on the wire incl. memberlist)", time.Since(start), got,
			after.Transport.BytesReceived()-before.Transport.BytesReceived())
		if time.Since(start) > 5*time.Second {
			t.Errorf("took %v with bulk sync every hour: the join did not trigger a sync", time.Since(start))
		}
		c.stop()
	})
}

func (c *cluster) waitNetworkMembers(network string, names []string) {
	c.t.Helper()
	want := slices.Sorted(slices.Values(names))
	waitFor(c.t, 30*time.Second, func() error {
		for _, d := range c.live() {
			if got := d.NetworkMembers(network); !slices.Equal(got, want) {
				return fmt.Errorf("%s sees %v in %q", d.LocalName(), got, network)
			}
		}
		return nil
	})
}

// A node that joins the cluster with a network already joined, as the
// daemon does, holds the network's table within a few seconds even when
// its seed is not a member of that network: its first syncs go to members
// that don't know it yet and are dropped unanswered, so it asks others
// until one answers. Digests, which would repair it too, run only hourly.
func TestJoinSyncsRetryUntilAnswered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 12, func(cfg *Config) {
			cfg.BulkSyncInterval = time.Hour
			cfg.Tune = func(mc *memberlist.Config) {
				fastMemberlist(mc)
				// News of the joiner spreads at the production pace, slower
				// than its join syncs travel.
				mc.GossipInterval = 200 * time.Millisecond
			}
		})
		c.joinAll()
		members := c.names[1:] // the seed, names[0], stays out of blue
		for _, name := range members {
			mustOK(t, c.nodes[name].JoinNetwork("blue"))
			mustOK(t, c.nodes[name].Put("blue", "ep", name, []byte("x")))
		}
		c.waitNetworkMembers("blue", members)

		joiner := c.start("mngsp-joiner")
		mustOK(t, joiner.JoinNetwork("blue"))
		start := time.Now()
		if _, err := joiner.Join([]string{c.addr(c.names[0])}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, func() error {
			if got := len(dump(joiner, "blue", "ep")); got != len(members) {
				return fmt.Errorf("joiner holds %d of %d entries", got, len(members))
			}
			return nil
		})
		took := time.Since(start)
		t.Logf("joiner held the table %v after Join (virtual); %d syncs dropped as from an unknown sender", took, dropsOf(c, dropUnknownSender))
		if took > 5*time.Second {
			t.Errorf("joiner held the table %v after Join, want within a few join-sync retries", took)
		}
		c.stop()
	})
}

func dropsOf(c *cluster, reason dropReason) uint64 {
	var sum uint64
	for _, d := range c.live() {
		sum += d.Stats().Dropped[reason.String()]
	}
	return sum
}

func TestJoinSyncTargetsPreferSeeds(t *testing.T) {
	peers := []string{"a", "b", "c", "d", "e"}
	for range 20 {
		got := joinSyncTargets(peers, map[string]bool{"d": true, "x": true})
		if len(got) != joinSyncPeers || got[0] != "d" || got[1] == "d" {
			t.Fatalf("targets %v: want d first, then one other", got)
		}
	}
	if got := joinSyncTargets([]string{"a"}, nil); !slices.Equal(got, []string{"a"}) {
		t.Errorf("one peer: %v", got)
	}
	if got := joinSyncTargets(nil, map[string]bool{"a": true}); len(got) != 0 {
		t.Errorf("no peers: %v", got)
	}
}
