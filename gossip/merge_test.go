package gossip

import (
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"meshnet.dev/meshnet/gossip/memnet"
	"meshnet.dev/meshnet/gossip/wire"
)

// nodeAt is a memberlist node as its join would report it.
func nodeAt(name string, host int) *memberlist.Node {
	return &memberlist.Node{Name: name, Addr: net.IPv4(10, 9, 0, byte(host)), Port: 7946}
}

// loneDB is a DB on its own, joined to "blue", that believes peers are
// live members: messages can be fed straight into its receive path.
func loneDB(t testing.TB, peers ...string) *DB {
	t.Helper()
	return loneDBOn(t, memnet.New(1), peers...)
}

// loneDBOn is loneDB on net, where real members may join it later.
func loneDBOn(t testing.TB, net *memnet.Network, peers ...string) *DB {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Name = "mngsp-self"
	cfg.Transport = net.NewTransport(cfg.Name)
	cfg.Logger = testLogger()
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Shutdown() })
	for i, p := range peers {
		d.onMemberJoin(nodeAt(p, i+1))
	}
	if err := d.JoinNetwork("blue"); err != nil {
		t.Fatal(err)
	}
	return d
}

func feed(d *DB, sender, network string, evs ...wire.TableEvent) {
	d.handleMessage(wire.TableEvents{Sender: sender, Network: network, Events: evs}.Append(nil))
}

// eventLog records what a watcher saw.
type eventLog struct {
	mu  sync.Mutex
	evs []Event
}

func watchAll(d *DB) *eventLog {
	l := &eventLog{}
	d.Watch(func(e Event) {
		l.mu.Lock()
		l.evs = append(l.evs, e)
		l.mu.Unlock()
	})
	return l
}

func (l *eventLog) count(kind EventKind, pred func(Event) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.evs {
		if e.Kind == kind && (pred == nil || pred(e)) {
			n++
		}
	}
	return n
}

// Events arrive in any order and any number of times; the replica must end
// in the owner's latest state, which a naive model (the event with the
// greatest time wins) predicts.
func TestReorderedEventsConvergeToOwnersLatest(t *testing.T) {
	d := loneDB(t, "mngsp-owner")
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		key := fmt.Sprintf("k%03d", trial)
		var history []wire.TableEvent
		for lt := uint64(1); lt <= uint64(2+rng.IntN(8)); lt++ {
			ev := wire.TableEvent{Table: "ep", Key: key, Owner: "mngsp-owner", LTime: lt + uint64(trial)*100}
			if rng.IntN(3) == 0 {
				ev.Deleted, ev.TTL = true, time.Hour
			} else {
				ev.Value = fmt.Appendf(nil, "v%d", lt)
			}
			history = append(history, ev)
		}
		latest := history[len(history)-1]
		shuffled := slices.Clone(history)
		shuffled = append(shuffled, history[rng.IntN(len(history))]) // a duplicate
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		for _, ev := range shuffled {
			feed(d, "mngsp-owner", "blue", ev)
		}
		got := d.Lookup("blue", "ep", key)
		switch {
		case latest.Deleted && len(got) != 0:
			t.Fatalf("trial %d: owner deleted last, replica shows %+v", trial, got)
		case !latest.Deleted && (len(got) != 1 || string(got[0].Value) != string(latest.Value) || got[0].LTime != latest.LTime):
			t.Fatalf("trial %d: replica %+v, owner's latest %+v", trial, got, latest)
		}
	}
	if d.Stats().Dropped["stale"] == 0 {
		t.Error("no stale events counted, so the shuffle tested nothing")
	}
}

func TestEqualLTimeLoses(t *testing.T) {
	d := loneDB(t, "mngsp-owner")
	feed(d, "mngsp-owner", "blue", wire.TableEvent{Table: "ep", Key: "k", Owner: "mngsp-owner", LTime: 5, Value: []byte("first")})
	feed(d, "mngsp-owner", "blue", wire.TableEvent{Table: "ep", Key: "k", Owner: "mngsp-owner", LTime: 5, Value: []byte("second")})
	feed(d, "mngsp-owner", "blue", wire.TableEvent{Table: "ep", Key: "k", Owner: "mngsp-owner", LTime: 4, Deleted: true, TTL: time.Hour})
	if v, _ := lookupValue(d, "blue", "ep", "k", "mngsp-owner"); v != "first" {
		t.Errorf("value %q, want the first write at the same time to stay", v)
	}
	if got := d.clock.Time(); got < 5 {
		t.Errorf("clock %d did not witness time 5", got)
	}
}

// A tombstone relayed late lives only for what was left of its lifetime,
// and is relayed with its remaining lifetime.
func TestTombstoneLifetimeTravels(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	d := loneDB(t, "mngsp-owner")
	d.now = func() time.Time { return now }
	feed(d, "mngsp-owner", "blue",
		wire.TableEvent{Table: "ep", Key: "short", Owner: "mngsp-owner", LTime: 3, Deleted: true, TTL: 2 * time.Second},
		wire.TableEvent{Table: "ep", Key: "long", Owner: "mngsp-owner", LTime: 3, Deleted: true, TTL: 1000 * time.Hour})
	d.mu.Lock()
	n := d.networks["blue"]
	short := wireEntry(entryID{"ep", "short", "mngsp-owner"}, n.get(entryID{"ep", "short", "mngsp-owner"}), now.Add(500*time.Millisecond))
	long := n.get(entryID{"ep", "long", "mngsp-owner"})
	d.mu.Unlock()
	if short.TTL != 1500*time.Millisecond {
		t.Errorf("relayed TTL %v, want 1.5s left", short.TTL)
	}
	if got := long.reapAt.Sub(now); got != d.cfg.TombstoneTTL {
		t.Errorf("long tombstone lives %v, want capped at TombstoneTTL %v", got, d.cfg.TombstoneTTL)
	}
	// An older create must not resurrect the entry while the tombstone lives.
	feed(d, "mngsp-owner", "blue", wire.TableEvent{Table: "ep", Key: "short", Owner: "mngsp-owner", LTime: 2, Value: []byte("old")})
	if got := d.Lookup("blue", "ep", "short"); len(got) != 0 {
		t.Fatalf("older create resurrected a deleted entry: %+v", got)
	}
	d.reap(now.Add(time.Second))
	if d.Stats().Entries["blue"] != 2 {
		t.Fatalf("tombstone reaped early: %v", d.Stats().Entries)
	}
	d.reap(now.Add(2 * time.Second))
	if got := d.Stats().Entries["blue"]; got != 1 {
		t.Fatalf("after 2s %d records, want only the long tombstone", got)
	}
}

// An event claiming to change our own entry is dropped, and our entry is
// re-asserted with a later time so that it wins everywhere.
func TestForeignOwnEntryReasserted(t *testing.T) {
	d := loneDB(t, "mngsp-evil")
	if err := d.Put("blue", "ep", "mine", []byte("real")); err != nil {
		t.Fatal(err)
	}
	feed(d, "mngsp-evil", "blue",
		wire.TableEvent{Table: "ep", Key: "mine", Owner: d.name, LTime: 100, Value: []byte("forged")},
		wire.TableEvent{Table: "ep", Key: "never", Owner: d.name, LTime: 50, Value: []byte("forged")})
	if v, _ := lookupValue(d, "blue", "ep", "mine", d.name); v != "real" {
		t.Fatalf("own entry became %q", v)
	}
	if got := d.Lookup("blue", "ep", "never"); len(got) != 0 {
		t.Fatalf("forged own entry stored: %+v", got)
	}
	if got := d.Stats().Dropped["foreign-owner"]; got != 2 {
		t.Errorf("foreign-owner drops %d, want 2", got)
	}
	d.mu.Lock()
	mine := d.networks["blue"].get(entryID{"ep", "mine", d.name})
	never := d.networks["blue"].get(entryID{"ep", "never", d.name})
	queued := d.networks["blue"].queue.len()
	d.mu.Unlock()
	if mine.ltime <= 100 || never == nil || !never.deleted || never.ltime <= 50 {
		t.Errorf("not re-asserted past the forgeries: mine@%d, never=%+v", mine.ltime, never)
	}
	if queued < 2 {
		t.Errorf("re-assertions not queued for fanout (%d queued)", queued)
	}
	// Our own events coming back are not foreign.
	feed(d, "mngsp-evil", "blue", wire.TableEvent{Table: "ep", Key: "mine", Owner: d.name, LTime: mine.ltime, Value: []byte("real")})
	if got := d.Stats().Dropped["foreign-owner"]; got != 2 {
		t.Errorf("an echo of our own entry counted as foreign")
	}
}

func TestHostileInputDroppedAndCounted(t *testing.T) {
	d := loneDB(t, "mngsp-peer")
	ok := wire.TableEvent{Table: "ep", Key: "k", Owner: "mngsp-peer", LTime: 1, Value: []byte("v")}
	valid := wire.TableEvents{Sender: "mngsp-peer", Network: "blue", Events: []wire.TableEvent{ok}}.Append(nil)
	badVersion := append([]byte{9}, valid[1:]...)
	badType := append([]byte{1, 99}, valid[2:]...)
	for _, tc := range []struct {
		reason string
		msg    []byte
	}{
		{"version", badVersion},
		{"unknown-type", badType},
		{"oversized", make([]byte, MaxMessageSize+1)},
		{"malformed", valid[:len(valid)-1]},
		{"not-member", wire.TableEvents{Sender: "mngsp-peer", Network: "red", Events: []wire.TableEvent{ok}}.Append(nil)},
		{"unknown-sender", wire.TableEvents{Sender: "mngsp-stranger", Network: "blue", Events: []wire.TableEvent{ok}}.Append(nil)},
		{"unknown-owner", wire.TableEvents{Sender: "mngsp-peer", Network: "blue", Events: []wire.TableEvent{{Table: "ep", Key: "k", Owner: "mngsp-stranger", LTime: 1}}}.Append(nil)},
		{"ltime-jump", wire.TableEvents{Sender: "mngsp-peer", Network: "blue", Events: []wire.TableEvent{{Table: "ep", Key: "k", Owner: "mngsp-peer", LTime: 1 << 62}}}.Append(nil)},
		{"not-member", wire.BulkSync{Sender: "mngsp-peer", Network: "red", Entries: []wire.TableEvent{ok}}.Append(nil)},
		{"unknown-owner", wire.NetworkEvents{Sender: "mngsp-peer", Records: []wire.NetRecord{{Node: "mngsp-stranger", Network: "blue", LTime: 1}}}.Append(nil)},
	} {
		before := d.Stats().Dropped[tc.reason]
		d.handleMessage(tc.msg)
		if got := d.Stats().Dropped[tc.reason]; got <= before {
			t.Errorf("%s: drop not counted (%d -> %d)", tc.reason, before, got)
		}
	}
	if got := d.Lookup("blue", "ep", "k"); len(got) != 0 {
		t.Errorf("dropped input was stored: %+v", got)
	}
	if held := d.heldNetworks(); slices.Contains(held, "red") {
		t.Errorf("holds entries of a network it never joined: %v", held)
	}
	if got := d.clock.Time(); got > 1<<41 {
		t.Errorf("clock jumped to %d", got)
	}
	d.handleMessage(valid)
	if v, _ := lookupValue(d, "blue", "ep", "k", "mngsp-peer"); v != "v" {
		t.Errorf("valid message after the hostile ones not applied")
	}
}

// A failed owner's entries are hidden, not deleted, and come back with it.
func TestFailedOwnerHiddenThenRestored(t *testing.T) {
	d := loneDB(t, "mngsp-peer")
	log := watchAll(d)
	feed(d, "mngsp-peer", "blue", wire.TableEvent{Table: "ep", Key: "k", Owner: "mngsp-peer", LTime: 1, Value: []byte("v")})
	node := &memberlist.Node{Name: "mngsp-peer", Addr: net.IPv4(10, 9, 0, 1), Port: 7946}
	d.onMemberLeave(node)
	if got := d.Lookup("blue", "ep", "k"); len(got) != 0 {
		t.Fatalf("failed owner's entry visible: %+v", got)
	}
	walked := 0
	d.Walk("blue", "ep", func(Entry) bool { walked++; return true })
	if walked != 0 {
		t.Fatalf("Walk shows %d entries of a failed owner", walked)
	}
	d.onMemberJoin(node)
	if v, _ := lookupValue(d, "blue", "ep", "k", "mngsp-peer"); v != "v" {
		t.Fatal("entry not restored when its owner came back")
	}
	waitFor(t, 5*time.Second, func() error {
		isK := func(e Event) bool { return e.Entry.Key == "k" }
		puts, dels, fails := log.count(EntryPut, isK), log.count(EntryDelete, isK), log.count(MemberFailed, nil)
		if puts != 2 || dels != 1 || fails != 1 {
			return fmt.Errorf("%d puts, %d deletes, %d failures; want 2, 1, 1", puts, dels, fails)
		}
		return nil
	})
	// Reaped after NodeReapTimeout.
	d.onMemberLeave(node)
	d.reap(time.Now().Add(d.cfg.NodeReapTimeout + time.Second))
	d.mu.Lock()
	known := d.members.known("mngsp-peer")
	d.mu.Unlock()
	if d.Stats().Entries["blue"] != 0 || known {
		t.Errorf("failed node not reaped: %v", d.Stats().Entries)
	}
}

// Once a node's leave from a network is known, a late copy of its entry is
// stored as deleted, whatever the order.
func TestLeaveRecordRetractsEntries(t *testing.T) {
	d := loneDB(t, "mngsp-peer")
	recs := func(rs ...wire.NetRecord) []byte {
		return wire.NetworkEvents{Sender: "mngsp-peer", Records: rs}.Append(nil)
	}
	d.handleMessage(recs(wire.NetRecord{Node: "mngsp-peer", Network: "blue", LTime: 1}))
	if got := d.NetworkMembers("blue"); !slices.Equal(got, []string{"mngsp-peer", d.name}) {
		t.Fatalf("members %v", got)
	}
	feed(d, "mngsp-peer", "blue", wire.TableEvent{Table: "ep", Key: "a", Owner: "mngsp-peer", LTime: 1, Value: []byte("v")})
	d.handleMessage(recs(wire.NetRecord{Node: "mngsp-peer", Network: "blue", LTime: 2, Leave: true, TTL: time.Minute}))
	feed(d, "mngsp-peer", "blue", wire.TableEvent{Table: "ep", Key: "b", Owner: "mngsp-peer", LTime: 2, Value: []byte("late")})
	if got := d.Lookup("blue", "ep", "a"); len(got) != 0 {
		t.Errorf("entry of a node that left the network still visible")
	}
	if got := d.Lookup("blue", "ep", "b"); len(got) != 0 {
		t.Errorf("late entry of a node that left the network stored live")
	}
	if got := d.NetworkMembers("blue"); !slices.Equal(got, []string{d.name}) {
		t.Errorf("members %v after leave", got)
	}
	// A stale join (older time) does not undo the leave.
	d.handleMessage(recs(wire.NetRecord{Node: "mngsp-peer", Network: "blue", LTime: 1}))
	if got := d.NetworkMembers("blue"); len(got) != 1 {
		t.Errorf("stale join undid a leave: %v", got)
	}
}
