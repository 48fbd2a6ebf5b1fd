package gossip

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/memberlist"
)

// A node that left gracefully can come back under the same name (a daemon
// stopped and started again): its new entries win over the deletes its
// previous run left behind.
func TestRejoinAfterGracefulLeave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 6, nil)
		c.joinAll()
		x := c.names[2]
		for _, n := range c.names {
			mustOK(t, c.nodes[n].JoinNetwork("blue"))
		}
		mustOK(t, c.nodes[x].Put("blue", "ep", "a", []byte("old")))
		c.waitConverged("blue", []string{"ep"}, 1)
		mustOK(t, c.nodes[x].Leave(time.Second))
		c.waitConverged("blue", []string{"ep"}, 0)

		nx := c.start(x)
		mustOK(t, nx.JoinNetwork("blue"))
		mustOK(t, nx.Put("blue", "ep", "a", []byte("new")))
		mustOK(t, nx.Put("blue", "ep", "b", []byte("new")))
		if _, err := nx.Join([]string{c.addr(c.names[0])}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		waitFor(t, 30*time.Second, func() error {
			for _, d := range c.live() {
				if s := memberState(d, x); s != StateAlive {
					return fmt.Errorf("%s sees %s as %v", d.LocalName(), x, s)
				}
				if got := dump(d, "blue", "ep"); len(got) != 2 {
					return fmt.Errorf("%s shows %v", d.LocalName(), got)
				}
				for _, k := range []string{"a", "b"} {
					if v, _ := lookupValue(d, "blue", "ep", k, x); v != "new" {
						return fmt.Errorf("%s sees %s=%q", d.LocalName(), k, v)
					}
				}
				if !slices.Contains(d.NetworkMembers("blue"), x) {
					return fmt.Errorf("%s does not list %s in blue", d.LocalName(), x)
				}
			}
			return nil
		})
		t.Logf("rejoined node's entries won everywhere in %v (virtual)", time.Since(start))
		c.stop()
	})
}

func TestSetMetaSpreads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 0, nil)
		for i := range 4 {
			c.startWith(fmt.Sprintf("mngsp-n%02d", i), func(cfg *Config) { cfg.Meta = []byte("v1") })
		}
		c.joinAll()
		logs := map[string]*eventLog{}
		for _, n := range c.names[1:] {
			logs[n] = watchAll(c.nodes[n])
		}
		mustOK(t, c.nodes[c.names[0]].SetMeta([]byte("endpoint=10.0.0.1:4789")))
		waitFor(t, 10*time.Second, func() error {
			for _, n := range c.names[1:] {
				for _, m := range c.nodes[n].Members() {
					if m.Name == c.names[0] && !bytes.Equal(m.Meta, []byte("endpoint=10.0.0.1:4789")) {
						return fmt.Errorf("%s sees meta %q", n, m.Meta)
					}
				}
				if logs[n].count(MemberUpdate, nil) != 1 {
					return fmt.Errorf("%s got no member-update event", n)
				}
			}
			return nil
		})
		if err := c.nodes[c.names[0]].SetMeta(make([]byte, 600)); err == nil {
			t.Error("oversized meta accepted")
		}
		c.stop()
	})
}

// The DB's transport counters agree with the network's own count of the
// node's traffic: every byte memberlist moves is counted.
func TestStatsCountAllTraffic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 5, nil)
		c.joinAll()
		for _, n := range c.names {
			mustOK(t, c.nodes[n].JoinNetwork("blue"))
			mustOK(t, c.nodes[n].Put("blue", "ep", n, []byte("v")))
		}
		c.waitConverged("blue", []string{"ep"}, 5)
		time.Sleep(3 * time.Second) // a few bulk-sync rounds
		c.shutdownAll()
		time.Sleep(2 * time.Second)
		for _, n := range c.names {
			s, w := c.nodes[n].Stats(), c.net.Counters(n)
			if s.Transport.PacketBytesSent != w.PacketBytesSent || s.Transport.PacketsSent != w.PacketsSent ||
				s.Transport.StreamBytesSent != w.StreamBytesSent || s.Transport.StreamBytesReceived != w.StreamBytesReceived {
				t.Errorf("%s: DB counted %+v, network %+v", n, s.Transport, w)
			}
			for _, typ := range []string{"table-events", "network-events", "bulk-sync"} {
				if s.Sent[typ].Messages == 0 || s.Received[typ].Bytes == 0 {
					t.Errorf("%s: no %s traffic counted: %+v / %+v", n, typ, s.Sent[typ], s.Received[typ])
				}
			}
			if s.Entries["blue"] != 5 || s.Entries[ClusterScope] != 0 {
				t.Errorf("%s: entries %v", n, s.Entries)
			}
		}
		s := c.nodes[c.names[0]].Stats()
		t.Logf("5 nodes, 3s idle after convergence: node 0 sent %d bytes in %d packets and %d stream bytes; ours: %+v",
			s.Transport.BytesSent(), s.Transport.PacketsSent, s.Transport.StreamBytesSent, s.Sent)
	})
}

// A member that crashes and comes back under its name from another
// address while this node is sending to it. memberlist rewrites the node
// it knew in place, under its own lock, so a send under way must not hold
// memberlist's node structs (go test -race reported it here). The sends
// are a graceful leave's pushes to one peer, in order: the first is held
// up because the peer does not answer, and the peer moves before the
// second.
func TestLeavePushesWhileAPeerMoves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const dialTimeout = 2 * time.Second
		c := newCluster(t, 3, func(cfg *Config) {
			cfg.Tune = func(mc *memberlist.Config) {
				fastMemberlist(mc)
				mc.TCPTimeout = dialTimeout
			}
		})
		c.joinAll()
		leaver, mover := c.names[0], c.names[1]
		a := c.nodes[leaver]
		// The mover, alone with the leaver in two networks, gets at least
		// two pushes: net-1's deletes, then net-2's.
		for _, nw := range []string{"net-1", "net-2"} {
			for _, n := range []string{leaver, mover} {
				mustOK(t, c.nodes[n].JoinNetwork(nw))
			}
			c.waitNetworkMembers(nw, []string{leaver, mover})
		}
		seed, oldAddr := c.addr(leaver), c.addr(mover)
		moves := watchAll(a)

		// The first push to the mover waits out its dial timeout; meanwhile
		// the mover crashes and restarts elsewhere, reachable again, just
		// before that push gives up (the race detector remembers only the
		// last few accesses to a word, and memberlist reads the address as
		// it probes).
		c.net.Partition([]string{leaver}, []string{mover})
		left := make(chan error, 1)
		start := time.Now()
		// (Leave may wait out its timeout for its record to spread; the
		// moved node must still hold that record when memberlist's leave
		// reaches it, TombstoneTTL 20 s.)
		go func() { left <- a.Leave(5 * time.Second) }()
		synctest.Wait() // the first push is dialling the cut-off mover
		mustOK(t, c.nodes[mover].Shutdown())
		// The leaver marks it failed within a second and lets its name move
		// after DeadNodeReclaimTime (200 ms); it keeps the node it knew, and
		// rewrites its address when the node returns, for
		// GossipToTheDeadTime (2 s).
		time.Sleep(time.Until(start.Add(dialTimeout - time.Millisecond)))
		c.net.Heal()
		m := c.start(mover)
		if _, err := m.Join([]string{seed}); err != nil {
			t.Fatal(err)
		}
		if err := <-left; err != nil {
			t.Fatalf("leave: %v", err)
		}
		moved := moves.count(MemberJoin, func(e Event) bool {
			return e.Member.Name == mover && e.Member.Addr.String() != oldAddr
		})
		if moved != 1 {
			t.Fatalf("the leaver saw %s come back from a new address %d times, want 1", mover, moved)
		}
		waitFor(t, 10*time.Second, func() error {
			if s := memberState(m, leaver); s != StateLeft {
				return fmt.Errorf("the moved node sees the leaver as %v", s)
			}
			return nil
		})
		c.stop()
	})
}
