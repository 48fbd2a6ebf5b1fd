package gossip

import (
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"meshnet.dev/meshnet/gossip/wire"
)

// A digest depends on the items, not on the order they were stored in,
// and any field the merge compares changes it.
func TestDigestOrderIndependent(t *testing.T) {
	now := time.Unix(1000, 0)
	evs := sampleEvents()
	build := func(order []int, edit func(*wire.TableEvent)) wire.Summary {
		records := recordTable{}
		n := newNetwork("blue")
		for _, i := range order {
			ev := evs[i]
			if edit != nil {
				edit(&ev)
			}
			rec := &entryRec{value: ev.Value, ltime: ev.LTime, deleted: ev.Deleted}
			if ev.Deleted {
				rec.reapAt = now.Add(ev.TTL)
			}
			n.set(entryID{ev.Table, ev.Key, ev.Owner}, rec)
		}
		records.set("blue", "mngsp-a", &memberRec{ltime: 3})
		return networkSummary(records, n, now)
	}
	base := build([]int{0, 1, 2}, nil)
	if got := build([]int{2, 0, 1}, nil); got != base {
		t.Fatalf("reordered: %+v, want %+v", got, base)
	}
	if base.Count != 4 {
		t.Errorf("count %d, want 4 (3 entries, 1 record)", base.Count)
	}
	for name, edit := range map[string]func(*wire.TableEvent){
		"ltime":   func(ev *wire.TableEvent) { ev.LTime++ },
		"value":   func(ev *wire.TableEvent) { ev.Value = append([]byte("x"), ev.Value...) },
		"deleted": func(ev *wire.TableEvent) { ev.Deleted, ev.TTL = !ev.Deleted, time.Minute },
		"owner":   func(ev *wire.TableEvent) { ev.Owner += "x" },
	} {
		if got := build([]int{0, 1, 2}, edit); got == base {
			t.Errorf("%s changed but the digest did not", name)
		}
	}
	// An expired tombstone is not carried by a bulk sync, nor counted.
	expired := build([]int{0, 1, 2}, func(ev *wire.TableEvent) {
		if ev.Deleted {
			ev.TTL = 0
		}
	})
	if expired.Count != base.Count-1 {
		t.Errorf("expired tombstone counted: %d items, want %d", expired.Count, base.Count-1)
	}
}

// At rest, anti-entropy sends digests only: no bulk sync and no stream
// (memberlist's push/pull timer is off). A replica that diverges is
// repaired by the full sync that the digest mismatch starts.
func TestIdleSendsDigestsAndRepairsDivergence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 5, nil)
		c.joinAll()
		for i, d := range c.live() {
			mustOK(t, d.JoinNetwork("blue"))
			mustOK(t, d.Put("blue", "ep", fmt.Sprint(i), []byte("v")))
		}
		c.waitConverged("blue", []string{"ep"}, 5)
		time.Sleep(5 * time.Second) // join syncs and their answers finish

		before := make(map[string]Stats)
		for _, n := range c.names {
			before[n] = c.nodes[n].Stats()
		}
		time.Sleep(10 * time.Second) // 10 bulk-sync intervals
		for _, n := range c.names {
			s, b := c.nodes[n].Stats(), before[n]
			if got := s.Sent["bulk-sync"].Messages - b.Sent["bulk-sync"].Messages; got != 0 {
				t.Errorf("%s sent %d bulk syncs at rest", n, got)
			}
			if got := s.DigestMismatches - b.DigestMismatches; got != 0 {
				t.Errorf("%s saw %d digest mismatches at rest", n, got)
			}
			if got := s.Transport.StreamsOpened - b.Transport.StreamsOpened; got != 0 {
				t.Errorf("%s opened %d streams at rest", n, got)
			}
			if got := s.Sent["digest"].Messages - b.Sent["digest"].Messages; got < 10 {
				t.Errorf("%s sent %d digests in 10 intervals, want at least 10", n, got)
			}
		}

		// An entry only one replica holds, as if all its gossip was lost:
		// dequeued before any round could send it (the bubble's clock
		// stands still while this goroutine runs).
		a := c.nodes[c.names[0]]
		mustOK(t, a.Put("blue", "ep", "lost", []byte("v")))
		a.mu.Lock()
		a.networks["blue"].queue.remove(entryID{"ep", "lost", a.name})
		a.mu.Unlock()
		waitFor(t, 10*time.Second, func() error {
			for _, d := range c.live() {
				if _, ok := lookupValue(d, "blue", "ep", "lost", a.name); !ok {
					return fmt.Errorf("%s lacks the entry", d.name)
				}
			}
			return nil
		})
		var mismatches uint64
		for _, d := range c.live() {
			mismatches += d.Stats().DigestMismatches
		}
		if mismatches == 0 {
			t.Error("repaired without a digest mismatch")
		}
		c.stop()
	})
}

// A membership record that gossip missed everywhere, for a network no
// other node is in (so no bulk sync carries it), arrives by the push/pull
// that a membership digest mismatch starts.
func TestMembershipDigestHealsMissedRecord(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 5, readablePackets)
		c.joinAll()
		x := c.names[4]
		others := c.names[:4]
		// While lossy, the gossip of x's join of red is lost on its way to
		// the others, and so are the membership digests that would show
		// the difference.
		var lossy atomic.Bool
		lossy.Store(true)
		c.net.SetFilter(func(from, to string, packet []byte) bool {
			msg := gossipPayload(packet)
			if !lossy.Load() || msg == nil {
				return true
			}
			return !carriesRecord(msg, x, "red") && !isMembershipDigest(msg)
		})
		mustOK(t, c.nodes[x].JoinNetwork("red"))
		time.Sleep(3 * time.Second) // the record's gossip is spent
		for _, n := range others {
			if got := c.nodes[n].NetworkMembers("red"); len(got) != 0 {
				t.Fatalf("%s saw red members %v despite the loss", n, got)
			}
		}
		lossy.Store(false)
		start := time.Now()
		waitFor(t, 20*time.Second, func() error {
			for _, n := range others {
				if got := c.nodes[n].NetworkMembers("red"); !slices.Equal(got, []string{x}) {
					return fmt.Errorf("%s sees red members %v", n, got)
				}
			}
			return nil
		})
		t.Logf("missed record healed in %v (virtual)", time.Since(start))
		var mismatches uint64
		for _, d := range c.live() {
			mismatches += d.Stats().DigestMismatches
		}
		if mismatches == 0 {
			t.Error("healed without a digest mismatch")
		}
		c.stop()
	})
}
