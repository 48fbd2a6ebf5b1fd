package gossip

import (
	"math/rand/v2"
	"time"

	"meshnet.dev/meshnet/gossip/wire"
)

// Membership gaps. memberlist spreads a join as an alive message that each
// node passes on only RetransmitMult·⌈log10 N⌉ times, so in a cluster of
// under ten nodes a node misses roughly one join in fifty (about e^-4),
// and even when it doesn't, the joiner's first gossip can arrive before
// the alive message does. A node drops entries and records of a node it
// doesn't know, and a dropped event is not sent again: without more, it
// would wait for a digest round (BulkSyncInterval) both to learn of the
// joiner and to get its entries.
//
// The same alive message announces a node that restarted, and a member
// that missed it goes on believing the node failed, hiding its entries,
// until a rejoin round.
//
// Such a drop is evidence: an authenticated message named a node we don't
// know, or came from one we believe failed (memberlist's packets are
// authenticated, so the node is back). We note it as a gap and hold what
// we could not apply (bounded: entries of a failed node are stored anyway,
// hidden). A gap still open after gapGrace (an alive message in flight lands well
// within it) starts a memberlist push/pull with the member that named the
// node. Once the node is known, by either path, the held items are applied
// as if they had just arrived, and networks whose items did not fit are
// bulk-synced with it.

const (
	// gapGrace is how long a gap may stay open before it is repaired.
	gapGrace = time.Second
	// gapTries bounds the push/pulls for one gap: a node that failed and
	// was forgotten here (memberlist's push/pull doesn't bring back a node
	// only known to be dead) stays unknown however often we ask, while a
	// member that reaped it later may still relay its entries.
	gapTries = 3
	// gapForget is how long a gap given up on is kept, so that such
	// relays don't start the push/pulls again.
	gapForget = 5 * time.Minute
	// maxGaps bounds the gaps tracked at once.
	maxGaps = 64
	// maxHeldItems bounds the items held across all gaps (with values of
	// at most MaxValueLen, 4 MiB).
	maxHeldItems = 1024
)

// gap is a node that gossip shows alive before memberlist does.
type gap struct {
	since    time.Time       // first noted, or last push/pull started
	via      string          // a known member that named the node
	tries    int             // push/pulls started
	held     []heldItem      // items dropped for want of the node, in order
	overflow map[string]bool // joined networks whose items were not held
}

// heldItem is an entry or a membership record waiting for its node.
type heldItem struct {
	at      time.Time
	from    string
	network string // the entry's network
	entry   *wire.TableEvent
	record  *wire.NetRecord
}

// gapLocked returns the open gap for node, noting a new one if the node is
// not alive here and not given up on; via is a live member that named it.
// It returns nil when nothing should be held.
func (d *DB) gapLocked(node, via string) *gap {
	if node == d.name || d.members.alive(node) {
		return nil
	}
	g := d.gaps[node]
	if g == nil {
		if len(d.gaps) >= maxGaps {
			return nil
		}
		g = &gap{since: d.now(), overflow: make(map[string]bool)}
		d.gaps[node] = g
	}
	if g.tries >= gapTries {
		return nil
	}
	if via != "" && via != node && d.members.alive(via) {
		g.via = via
	}
	return g
}

// holdEntryLocked keeps an entry of network that was dropped because node
// (its owner or the message's sender) is unknown.
func (d *DB) holdEntryLocked(node, from, network string, ev wire.TableEvent, now time.Time) {
	if g := d.gapLocked(node, from); g != nil {
		d.holdLocked(g, heldItem{at: now, from: from, network: network, entry: &ev})
	}
}

// holdRecordLocked keeps a membership record dropped because node is
// unknown.
func (d *DB) holdRecordLocked(node, from string, r wire.NetRecord, now time.Time) {
	if g := d.gapLocked(node, from); g != nil {
		d.holdLocked(g, heldItem{at: now, from: from, network: r.Network, record: &r})
	}
}

func (d *DB) holdLocked(g *gap, it heldItem) {
	if d.heldItems < maxHeldItems {
		g.held = append(g.held, it)
		d.heldItems++
		return
	}
	// A bulk sync of a joined network carries its records and entries;
	// other networks' records are left to the membership digest.
	if _, joined := d.networks[it.network]; joined {
		g.overflow[it.network] = true
	}
}

// repairGapsLocked closes the gaps of nodes now alive and starts a
// push/pull for each other gap open longer than gapGrace, one at a time,
// giving up on a gap after gapTries.
func (d *DB) repairGapsLocked(now time.Time) {
	for node, g := range d.gaps {
		if d.members.alive(node) {
			d.closeGapLocked(node)
			continue
		}
		if len(g.held) > 0 && d.members.known(node) {
			d.replayHeldLocked(g, now) // known as failed: stored, hidden
		}
		if g.tries >= gapTries {
			if now.Sub(g.since) >= gapGrace {
				d.dropHeldLocked(g) // given up on
			}
			if now.Sub(g.since) >= gapForget {
				delete(d.gaps, node)
			}
			continue
		}
		// One push/pull brings all of memberlist's state, so one a second
		// closes every gap it can, even in a join storm.
		if now.Sub(g.since) < gapGrace || now.Sub(d.gapRepairAt) < gapGrace {
			continue
		}
		peer := g.via
		if !d.members.alive(peer) {
			peers := d.networkPeersLocked(ClusterScope)
			if len(peers) == 0 {
				continue
			}
			peer = peers[rand.IntN(len(peers))]
		}
		if !d.pushPullLocked(peer) {
			return // one push/pull at a time; the next round tries again
		}
		g.tries++
		g.since, d.gapRepairAt = now, now
		d.stats.gapRepairs.Add(1)
	}
}

// closeGapLocked applies what was held for node, now alive, and
// bulk-syncs the networks whose items did not fit.
func (d *DB) closeGapLocked(node string) {
	g := d.gaps[node]
	if g == nil {
		return
	}
	delete(d.gaps, node)
	d.replayHeldLocked(g, d.now())
	// The node has its own entries; the member that named it has them too.
	peer := node
	if !d.members.alive(peer) {
		peer = g.via
	}
	if !d.members.alive(peer) {
		return
	}
	for network := range g.overflow {
		if _, joined := d.networks[network]; joined {
			d.scheduleSyncLocked(network, peer, true)
		}
	}
}

func (d *DB) replayHeldLocked(g *gap, now time.Time) {
	held := g.held
	d.dropHeldLocked(g)
	for _, it := range held {
		d.replayLocked(it, now)
	}
}

func (d *DB) dropHeldLocked(g *gap) {
	d.heldItems -= len(g.held)
	g.held = nil
}

// replayLocked applies a held item as gossip arriving now, relaying it if
// it was news.
func (d *DB) replayLocked(it heldItem, now time.Time) {
	age := now.Sub(it.at)
	if r := it.record; r != nil {
		if r.Leave {
			if r.TTL -= age; r.TTL <= 0 {
				return
			}
		}
		if d.applyRecordLocked(*r, it.from, now) {
			d.queueRecordLocked(recordID{r.Node, r.Network})
		}
		return
	}
	ev := it.entry
	if ev.Deleted {
		if ev.TTL -= age; ev.TTL <= 0 {
			return
		}
	}
	n, ok := d.networks[it.network]
	if !ok {
		return
	}
	if d.applyEntryLocked(n, *ev, it.from, now) {
		d.queueEntryLocked(n, entryID{ev.Table, ev.Key, ev.Owner})
	}
}
