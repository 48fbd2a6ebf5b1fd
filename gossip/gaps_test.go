package gossip

import (
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"meshnet.dev/meshnet/gossip/memnet"
	"meshnet.dev/meshnet/gossip/wire"
)

// A node that missed memberlist's alive message for a joiner learns of it
// from the gossip that named the joiner, and fetches the entries it
// dropped meanwhile, without waiting for a digest round (gaps.go).
func TestMissedJoinRepairedFromGossip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var deafness refusal // the deaf node misses the joiner's alive messages
		c := newCluster(t, 4, func(cfg *Config) {
			cfg.BulkSyncInterval = 1000 * time.Hour // no digest round to fall back on
			if cfg.Name == "mngsp-n02" {
				cfg.Admit = deafness.admit
			}
		})
		joiner, deaf := c.names[3], c.nodes[c.names[2]]
		deafness.refuse(joiner)
		seed := c.addr(c.names[0])
		for _, n := range c.names[1:3] {
			if _, err := c.nodes[n].Join([]string{seed}); err != nil {
				t.Fatal(err)
			}
		}
		c.waitMembers(c.names[:3]...)
		for _, n := range c.names {
			mustOK(t, c.nodes[n].JoinNetwork("blue"))
		}
		waitFor(t, 10*time.Second, func() error {
			for _, n := range c.names[:3] {
				if got := c.nodes[n].NetworkMembers("blue"); !slices.Equal(got, c.names[:3]) {
					return fmt.Errorf("%s sees %v in blue", n, got)
				}
			}
			return nil
		})

		if _, err := c.nodes[joiner].Join([]string{seed}); err != nil {
			t.Fatal(err)
		}
		mustOK(t, c.nodes[joiner].Put("blue", "ep", "k", []byte("v")))
		// The deaf node drops the joiner's gossip as from a stranger.
		waitFor(t, 10*time.Second, func() error {
			s := deaf.Stats()
			if n := s.Dropped["unknown-owner"] + s.Dropped["unknown-sender"]; n == 0 {
				return fmt.Errorf("%s has not dropped gossip about %s yet", deaf.LocalName(), joiner)
			}
			return nil
		})
		if slices.Contains(deaf.NetworkMembers(ClusterScope), joiner) {
			t.Fatalf("%s knows %s despite the refusal", deaf.LocalName(), joiner)
		}
		// memberlist passes an alive message on a few times within ~100 ms
		// (20 ms rounds); once they are spent it never sends it again.
		time.Sleep(gapGrace / 2)
		took := liftAndWait(t, deaf, &deafness, joiner)
		t.Logf("%s learnt of %s and its entry %v after the refusal lifted", deaf.LocalName(), joiner, took)
		if s := deaf.Stats(); s.GapRepairs == 0 || s.DigestMismatches != 0 {
			t.Errorf("gap repairs %d, digest mismatches %d: want the repair from the gap", s.GapRepairs, s.DigestMismatches)
		}
		c.stop()
	})
}

// Entries and records that name a node not yet known are held, and applied
// the moment memberlist reports the node, as gossip arriving then would be.
func TestHeldGossipAppliedWhenNodeBecomesKnown(t *testing.T) {
	const late = "mngsp-late"
	d := loneDB(t, "mngsp-relay")
	log := watchAll(d)
	feed(d, "mngsp-relay", "blue", wire.TableEvent{Table: "ep", Key: "a", Owner: late, LTime: 1, Value: []byte("relayed")})
	feed(d, late, "blue", wire.TableEvent{Table: "ep", Key: "b", Owner: late, LTime: 2, Value: []byte("direct")})
	d.handleMessage(wire.NetworkEvents{Sender: "mngsp-relay", Records: []wire.NetRecord{{Node: late, Network: "blue", LTime: 1}}}.Append(nil))
	if got := d.Lookup("blue", "ep", "a"); len(got) != 0 {
		t.Fatalf("entry of an unknown owner stored: %v", got)
	}
	s := d.Stats()
	if s.Dropped["unknown-owner"] != 2 || s.Dropped["unknown-sender"] != 1 {
		t.Fatalf("drops %v, want 2 unknown-owner and 1 unknown-sender", s.Dropped)
	}

	d.onMemberJoin(nodeAt(late, 2))
	for key, want := range map[string]string{"a": "relayed", "b": "direct"} {
		if got := d.Lookup("blue", "ep", key); len(got) != 1 || string(got[0].Value) != want {
			t.Errorf("ep/%s = %v after %s became known, want %q", key, got, late, want)
		}
	}
	if got := d.NetworkMembers("blue"); !slices.Contains(got, late) {
		t.Errorf("blue members %v, want %s among them", got, late)
	}
	d.mu.Lock()
	gaps, held := len(d.gaps), d.heldItems
	d.mu.Unlock()
	if gaps != 0 || held != 0 {
		t.Errorf("%d gaps and %d held items left, want none", gaps, held)
	}
	waitFor(t, 5*time.Second, func() error {
		if n := log.count(EntryPut, func(e Event) bool { return e.Entry.Owner == late }); n != 2 {
			return fmt.Errorf("watchers saw %d puts of %s's entries, want 2", n, late)
		}
		return nil
	})
}

// Holding is bounded: past maxHeldItems a joined network is marked for a
// bulk sync with the node once it is known, and past maxGaps new strangers
// are not tracked at all.
func TestHeldGossipIsBounded(t *testing.T) {
	const late = "mngsp-late"
	net := memnet.New(1)
	d := loneDBOn(t, net, "mngsp-relay")
	evs := make([]wire.TableEvent, 0, 64)
	for i := range maxHeldItems + 100 {
		evs = append(evs, wire.TableEvent{Table: "ep", Key: fmt.Sprint(i), Owner: late, LTime: uint64(i + 1), Value: []byte("v")})
		if len(evs) == cap(evs) {
			feed(d, "mngsp-relay", "blue", evs...)
			evs = evs[:0]
		}
	}
	feed(d, "mngsp-relay", "blue", evs...)
	for i := range 2 * maxGaps {
		feed(d, "mngsp-relay", "blue", wire.TableEvent{Table: "ep", Key: "x", Owner: fmt.Sprintf("mngsp-s%03d", i), LTime: 1})
	}
	d.mu.Lock()
	gaps, held, overflow := len(d.gaps), d.heldItems, d.gaps[late].overflow["blue"]
	d.mu.Unlock()
	if gaps != maxGaps || held != maxHeldItems || !overflow {
		t.Fatalf("%d gaps, %d held, blue overflowed %v: want %d, %d, true", gaps, held, overflow, maxGaps, maxHeldItems)
	}

	// The late node turns up; it has not joined blue as far as d knows, so
	// only the overflow can make d bulk-sync blue with it.
	p := startFakePeer(t, net, late)
	i := slices.IndexFunc(d.Members(), func(m Member) bool { return m.Name == d.name })
	if _, err := p.ml.Join([]string{d.Members()[i].Addr.String()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() error {
		n := 0
		d.Walk("blue", "ep", func(e Entry) bool {
			if e.Owner == late {
				n++
			}
			return true
		})
		if n != maxHeldItems {
			return fmt.Errorf("%d of %s's entries applied, want %d", n, late, maxHeldItems)
		}
		for _, m := range p.bulkSyncs() {
			if m.Sender == d.name && m.Network == "blue" && m.Respond {
				return nil
			}
		}
		return fmt.Errorf("%s got no bulk sync of blue asking for its own: %+v", late, p.bulkSyncs())
	})
}

// A node that restarted is back for a member that missed memberlist's
// alive message as soon as the node's gossip reaches it, not a rejoin
// round later.
func TestMissedRestartRepairedFromGossip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var deafness refusal // the deaf node misses the restart's alive messages
		c := newCluster(t, 4, func(cfg *Config) {
			cfg.BulkSyncInterval = 1000 * time.Hour // no rejoin round
			if cfg.Name == "mngsp-n02" {
				cfg.Admit = deafness.admit
			}
		})
		c.joinAll()
		for _, n := range c.names {
			mustOK(t, c.nodes[n].JoinNetwork("blue"))
		}
		c.waitNetworkMembers("blue", c.names)
		back, deaf := c.names[3], c.nodes[c.names[2]]
		mustOK(t, c.nodes[back].Shutdown())
		c.waitMembers(c.names[:3]...)
		// memberlist lets a dead node's name move to a new address only
		// after DeadNodeReclaimTime (200 ms here).
		time.Sleep(time.Second)

		deafness.refuse(back)
		d := c.start(back) // a new address, as after a restart elsewhere
		mustOK(t, d.JoinNetwork("blue"))
		if _, err := d.Join([]string{c.addr(c.names[0])}); err != nil {
			t.Fatal(err)
		}
		mustOK(t, d.Put("blue", "ep", "k", []byte("v")))
		waitFor(t, 10*time.Second, func() error {
			for _, n := range c.names[:2] {
				if got := c.nodes[n].Lookup("blue", "ep", "k"); len(got) != 1 {
					return fmt.Errorf("%s holds %d entries for ep/k; members %v; %+v", n, len(got), c.nodes[n].NetworkMembers(ClusterScope), c.nodes[n].Stats().Dropped)
				}
			}
			return nil
		})
		// The entry reached the deaf node too, hidden: it believes its
		// owner failed.
		time.Sleep(gapGrace / 2) // the alive message's few sends are spent
		if slices.Contains(deaf.NetworkMembers(ClusterScope), back) {
			t.Fatalf("%s saw %s return despite the refusal", deaf.LocalName(), back)
		}
		took := liftAndWait(t, deaf, &deafness, back)
		t.Logf("%s saw %s back, with its entry, %v after the refusal lifted", deaf.LocalName(), back, took)
		if s := deaf.Stats(); s.GapRepairs == 0 {
			t.Errorf("no push/pull started by %s's gossip", back)
		}
		c.stop()
	})
}

// liftAndWait lets deaf hear node's alive messages again and waits until
// it shows node alive with its entry blue/ep/k, returning how long that
// took. memberlist won't send the missed message again: only a repair can.
func liftAndWait(t *testing.T, deaf *DB, deafness *refusal, node string) time.Duration {
	t.Helper()
	deafness.lift()
	start := time.Now()
	waitFor(t, 10*time.Second, func() error {
		if got := deaf.NetworkMembers(ClusterScope); !slices.Contains(got, node) {
			return fmt.Errorf("%s sees %v", deaf.LocalName(), got)
		}
		if got := deaf.Lookup("blue", "ep", "k"); len(got) != 1 {
			return fmt.Errorf("%s shows %d entries for ep/k", deaf.LocalName(), len(got))
		}
		return nil
	})
	return time.Since(start)
}
