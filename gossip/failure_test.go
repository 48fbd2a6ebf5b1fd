package gossip

import (
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

func memberState(d *DB, name string) MemberState {
	for _, m := range d.Members() {
		if m.Name == name {
			return m.State
		}
	}
	return 0
}

// A crashed node's entries are hidden everywhere, then back when it
// restarts under the same name from a new address. What the restarted node
// no longer has is deleted, and what it changed wins, although its Lamport
// clock started again from zero.
func TestCrashedNodeHiddenThenRestored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 20, nil)
		c.joinAll()
		for _, n := range c.names {
			mustOK(t, c.nodes[n].JoinNetwork("blue"))
		}
		x := c.names[7]
		others := slices.DeleteFunc(slices.Clone(c.names), func(s string) bool { return s == x })
		logs := map[string]*eventLog{}
		for _, n := range others {
			logs[n] = watchAll(c.nodes[n])
		}
		for i := range 5 {
			mustOK(t, c.nodes[x].Put("blue", "ep", fmt.Sprint(i), []byte("v1")))
		}
		mustOK(t, c.nodes[x].Put(ClusterScope, "node", x, []byte("meta")))
		c.waitConverged("blue", []string{"ep"}, 5)
		oldAddr := c.addr(x)

		mustOK(t, c.nodes[x].Shutdown())
		waitFor(t, 30*time.Second, func() error {
			for _, n := range others {
				d := c.nodes[n]
				if memberState(d, x) != StateFailed {
					return fmt.Errorf("%s sees %s as %v", n, x, memberState(d, x))
				}
				if len(dump(d, "blue", "ep")) != 0 || len(d.Lookup(ClusterScope, "node", x)) != 0 {
					return fmt.Errorf("%s still shows %s's entries", n, x)
				}
				if slices.Contains(d.NetworkMembers("blue"), x) {
					return fmt.Errorf("%s lists failed %s in blue", n, x)
				}
			}
			return nil
		})
		waitFor(t, 5*time.Second, func() error {
			for _, n := range others {
				if got := logs[n].count(EntryDelete, func(e Event) bool { return e.Entry.Owner == x }); got != 6 {
					return fmt.Errorf("%s got %d delete events for the failed node's entries, want 6", n, got)
				}
			}
			return nil
		})
		for _, n := range others {
			if d := c.nodes[n]; d.Stats().Entries["blue"] != 5 {
				t.Errorf("%s dropped the hidden entries instead of keeping them: %v", n, d.Stats().Entries)
			}
		}

		// Restart: new DB, same name, new address. Like a daemon, it
		// republishes its state before joining: key 0 changed, key 4 gone.
		time.Sleep(time.Second) // let the dead node's name become reclaimable
		nx := c.start(x)
		mustOK(t, nx.JoinNetwork("blue"))
		mustOK(t, nx.Put("blue", "ep", "0", []byte("v2")))
		for i := 1; i < 4; i++ {
			mustOK(t, nx.Put("blue", "ep", fmt.Sprint(i), []byte("v1")))
		}
		if c.addr(x) == oldAddr {
			t.Fatal("restarted node kept its address; the test wants a new one")
		}
		if _, err := nx.Join([]string{c.addr(c.names[0])}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, func() error {
			for _, d := range c.live() {
				if memberState(d, x) != StateAlive {
					return fmt.Errorf("%s sees %s as %v", d.LocalName(), x, memberState(d, x))
				}
				want := []string{"v2", "v1", "v1", "v1"}
				got := []string{}
				d.Walk("blue", "ep", func(e Entry) bool { got = append(got, string(e.Value)); return true })
				if !slices.Equal(got, want) {
					return fmt.Errorf("%s shows %v, want %v", d.LocalName(), got, want)
				}
				if len(d.Lookup(ClusterScope, "node", x)) != 0 {
					return fmt.Errorf("%s still shows the entry the restarted node dropped", d.LocalName())
				}
			}
			return nil
		})
		waitFor(t, 5*time.Second, func() error {
			for _, n := range others {
				// Hidden once, then restored when it came back (and perhaps
				// updated again by its re-assertion): never deleted twice.
				isKey1 := func(e Event) bool { return e.Entry.Owner == x && e.Entry.Key == "1" }
				if puts, dels := logs[n].count(EntryPut, isKey1), logs[n].count(EntryDelete, isKey1); puts < 2 || dels != 1 {
					return fmt.Errorf("%s: key 1 of the returning node got %d puts and %d deletes, want 2+ and 1", n, puts, dels)
				}
			}
			return nil
		})
		for _, n := range others {
			if m := c.nodes[n].Members(); !slices.ContainsFunc(m, func(m Member) bool { return m.Name == x && m.Addr.String() == c.addr(x) }) {
				t.Errorf("%s does not have %s's new address", n, x)
			}
		}
		if nx.Stats().Dropped["foreign-owner"] == 0 {
			t.Error("restarted node never saw its previous run's entries")
		}
		c.stop()
	})
}

func TestGracefulLeaveDeletesEverywhere(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 20, nil)
		c.joinAll()
		for _, n := range c.names {
			mustOK(t, c.nodes[n].JoinNetwork("blue"))
		}
		x := c.names[3]
		for i := range 5 {
			mustOK(t, c.nodes[x].Put("blue", "ep", fmt.Sprint(i), []byte("v")))
		}
		mustOK(t, c.nodes[x].Put(ClusterScope, "svc", "web", []byte("v")))
		c.waitConverged("blue", []string{"ep"}, 5)
		c.waitConverged(ClusterScope, []string{"svc"}, 1)
		var others []string
		logs := map[string]*eventLog{}
		for _, n := range c.names {
			if n != x {
				others = append(others, n)
				logs[n] = watchAll(c.nodes[n])
			}
		}
		mustOK(t, c.nodes[x].Leave(2*time.Second))
		waitFor(t, 30*time.Second, func() error {
			for _, n := range others {
				d := c.nodes[n]
				if s := memberState(d, x); s != StateLeft {
					return fmt.Errorf("%s sees %s as %v", n, x, s)
				}
				if len(dump(d, "blue", "ep"))+len(dump(d, ClusterScope, "svc")) != 0 {
					return fmt.Errorf("%s still shows the leaver's entries", n)
				}
				if slices.Contains(d.NetworkMembers("blue"), x) {
					return fmt.Errorf("%s lists %s in blue", n, x)
				}
			}
			return nil
		})
		waitFor(t, 5*time.Second, func() error {
			for _, n := range others {
				if got := logs[n].count(EntryDelete, nil); got != 6 {
					return fmt.Errorf("%s got %d delete events, want 6", n, got)
				}
				// memberlist's leave message may overtake ours, so a node may
				// briefly call it a failure; it must end up knowing it left.
				if got := logs[n].count(MemberLeft, nil); got != 1 {
					return fmt.Errorf("%s got %d member-left events, want 1", n, got)
				}
			}
			return nil
		})
		if err := c.nodes[x].Put("blue", "ep", "late", nil); err == nil {
			t.Error("Put after Leave succeeded")
		}
		c.stop()
	})
}
