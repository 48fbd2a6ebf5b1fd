package gossip

import (
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// The cluster tests run 20 nodes on the in-memory network inside a
// synctest bubble: memberlist, gossip and bulk sync run on virtual time,
// so they are fast and leave no goroutine behind (the bubble would fail).

// checkScoping fails the test if any node holds entries of a network it
// has not joined.
func (c *cluster) checkScoping() error {
	for _, d := range c.live() {
		joined := append(d.Networks(), ClusterScope)
		for _, h := range d.heldNetworks() {
			if !slices.Contains(joined, h) {
				c.t.Fatalf("%s holds entries of network %q it has not joined", d.LocalName(), h)
			}
		}
	}
	return nil
}

// watchScoping fails the test if any node ever sees an entry event for a
// network it is not in.
func (c *cluster) watchScoping(violations *atomic.Int64) {
	for _, d := range c.live() {
		d.Watch(func(e Event) {
			if (e.Kind == EntryPut || e.Kind == EntryDelete) && e.Network != ClusterScope && !slices.Contains(d.Networks(), e.Network) {
				violations.Add(1)
			}
		})
	}
}

func TestEntriesReachOnlyNetworkMembers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 20, nil)
		var violations atomic.Int64
		c.watchScoping(&violations)
		c.joinAll()
		blue, red := c.names[:10], c.names[5:15]
		for _, n := range blue {
			mustOK(t, c.nodes[n].JoinNetwork("blue"))
		}
		for _, n := range red {
			mustOK(t, c.nodes[n].JoinNetwork("red"))
		}
		start := time.Now()
		for _, n := range blue {
			for i := range 3 {
				mustOK(t, c.nodes[n].Put("blue", "ep", fmt.Sprintf("%s-%d", n, i), []byte(n)))
			}
		}
		for _, n := range red {
			mustOK(t, c.nodes[n].Put("red", "ep", n, []byte(n)))
		}
		for _, n := range c.names {
			mustOK(t, c.nodes[n].Put(ClusterScope, "node", n, []byte("up")))
		}
		waitFor(t, 30*time.Second, func() error {
			c.checkScoping()
			for _, d := range c.live() {
				want := map[string]int{ClusterScope: 20}
				if slices.Contains(blue, d.LocalName()) {
					want["blue"] = 30
				}
				if slices.Contains(red, d.LocalName()) {
					want["red"] = 10
				}
				for network, n := range want {
					tables := []string{"ep"}
					if network == ClusterScope {
						tables = []string{"node"}
					}
					if got := len(dump(d, network, tables...)); got != n {
						return fmt.Errorf("%s has %d entries of %q, want %d", d.LocalName(), got, network, n)
					}
				}
			}
			return nil
		})
		t.Logf("20 nodes: all entries converged in %v (virtual)", time.Since(start))
		// Keep gossiping and syncing for a while: still nothing leaks.
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			c.checkScoping()
			time.Sleep(100 * time.Millisecond)
		}
		if v := violations.Load(); v != 0 {
			t.Errorf("%d entry events reached nodes outside the network", v)
		}
		// A node that leaves a network forgets its table and gets no more.
		leaver := c.nodes[blue[0]]
		mustOK(t, leaver.LeaveNetwork("blue"))
		mustOK(t, c.nodes[blue[1]].Put("blue", "ep", "after-leave", []byte("x")))
		waitFor(t, 10*time.Second, func() error {
			for _, n := range blue[1:] {
				if _, ok := lookupValue(c.nodes[n], "blue", "ep", "after-leave", blue[1]); !ok {
					return fmt.Errorf("%s lacks the new entry", n)
				}
				if got := c.nodes[n].Lookup("blue", "ep", blue[0]+"-0"); len(got) != 0 {
					return fmt.Errorf("%s still shows the leaver's entry", n)
				}
			}
			return nil
		})
		c.checkScoping()
		if slices.Contains(leaver.heldNetworks(), "blue") {
			t.Error("leaver still holds blue entries")
		}
		c.stop()
	})
}

func TestPartitionHealsToIdenticalTables(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 20, nil)
		c.joinAll()
		for _, n := range c.names {
			mustOK(t, c.nodes[n].JoinNetwork("blue"))
			mustOK(t, c.nodes[n].Put("blue", "pre", n, []byte("v1")))
		}
		c.waitConverged("blue", []string{"pre"}, 20)
		left, right := c.names[:10], c.names[10:]
		c.net.Partition(left, right)
		c.waitMembers(left...)
		c.waitMembers(right...)
		for _, n := range left {
			mustOK(t, c.nodes[n].Put("blue", "pre", n, []byte("v2")))
			mustOK(t, c.nodes[n].Put("blue", "during", n, []byte("left")))
			mustOK(t, c.nodes[n].Put(ClusterScope, "svc", n, []byte("left")))
		}
		for i, n := range right {
			if i < 3 {
				mustOK(t, c.nodes[n].Delete("blue", "pre", n))
			}
			mustOK(t, c.nodes[n].Put("blue", "during", n, []byte("right")))
			mustOK(t, c.nodes[n].Put(ClusterScope, "svc", n, []byte("right")))
		}
		time.Sleep(3 * time.Second) // both halves keep running apart
		start := time.Now()
		c.net.Heal()
		c.waitMembers(c.names...)
		waitFor(t, 60*time.Second, func() error {
			for _, d := range c.live() {
				got := dump(d, "blue", "pre", "during")
				if len(got) != 37 { // 17 pre + 20 during
					return fmt.Errorf("%s has %d entries, want 37", d.LocalName(), len(got))
				}
				if !slices.Equal(got, c.dumpOf(c.names[0], "blue", "pre", "during")) {
					return fmt.Errorf("%s differs from %s", d.LocalName(), c.names[0])
				}
				if got := dump(d, ClusterScope, "svc"); len(got) != 20 {
					return fmt.Errorf("%s has %d cluster entries", d.LocalName(), len(got))
				}
			}
			return nil
		})
		t.Logf("partition of 10/10 healed to identical tables %v after the network healed (virtual)", time.Since(start))
		for _, n := range left {
			if v, _ := lookupValue(c.nodes[right[5]], "blue", "pre", n, n); v != "v2" {
				t.Errorf("%s's update made apart is lost: %q", n, v)
			}
		}
		for _, n := range right[:3] {
			if _, ok := lookupValue(c.nodes[left[0]], "blue", "pre", n, n); ok {
				t.Errorf("%s's delete made apart is lost", n)
			}
		}
		c.stop()
	})
}

func (c *cluster) dumpOf(name, network string, tables ...string) []string {
	return dump(c.nodes[name], network, tables...)
}

// waitConverged waits until every live node shows n entries in network.
func (c *cluster) waitConverged(network string, tables []string, n int) {
	c.t.Helper()
	waitFor(c.t, 30*time.Second, func() error {
		for _, d := range c.live() {
			if got := len(dump(d, network, tables...)); got != n {
				return fmt.Errorf("%s has %d entries of %q, want %d", d.LocalName(), got, network, n)
			}
		}
		return nil
	})
}

func mustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
