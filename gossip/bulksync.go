package gossip

import (
	"math/rand/v2"
	"time"

	"meshnet.dev/meshnet/gossip/wire"
)

// Bulk sync (anti-entropy): this node sends its whole replica of a network
// (entries, tombstones and membership records) to one member over a
// stream, asking for the member's replica back; both merge. It syncs right
// after joining a network or the cluster, and whenever a periodic digest
// shows that its replica and a member's differ (digest.go). Because the merge is the same
// Lamport-time rule as for gossip, any two replicas that have exchanged
// state hold identical tables, which is what heals partitions and lost
// gossip.

// syncTask is one outgoing bulk sync.
type syncTask struct {
	network string
	peer    string
	respond bool // ask the peer to answer with its own state
}

// scheduleSyncLocked queues a sync unless the same one is already waiting.
func (d *DB) scheduleSyncLocked(network, peer string, respond bool) {
	t := syncTask{network, peer, respond}
	if d.pendingSyncs[t] || d.closed {
		return
	}
	select {
	case d.syncs <- t:
		d.pendingSyncs[t] = true
	default:
		d.stats.drop(dropSyncBacklog, 1)
	}
}

// askJoinSyncLocked asks peer for its replica of n, which this node has
// just joined (or joined before it knew any member).
func (d *DB) askJoinSyncLocked(n *network, peer string) {
	n.joinAsked = d.now()
	d.scheduleSyncLocked(n.id, peer, true)
}

// retryJoinSyncsLocked asks one more random member of every joined network
// that no bulk sync has reached joinSyncRetry after the last request. A
// member drops a sync from a node it doesn't know yet, unanswered, and
// right after a cluster join only the seeds know the joiner: without this
// the joiner's table would wait for a digest round (BulkSyncInterval).
func (d *DB) retryJoinSyncsLocked(now time.Time) {
	for _, n := range d.networks {
		if n.synced || n.joinAsked.IsZero() || n.joinRetries >= joinSyncRetries || now.Sub(n.joinAsked) < joinSyncRetry {
			continue
		}
		for _, p := range pickRandom(d.networkPeersLocked(n.id), 1) {
			n.joinRetries++
			d.askJoinSyncLocked(n, p)
		}
	}
}

func (d *DB) syncWorker() {
	defer d.wg.Done()
	for {
		select {
		case <-d.stop:
			return
		case t := <-d.syncs:
			d.mu.Lock()
			delete(d.pendingSyncs, t)
			d.mu.Unlock()
			d.runSync(t)
		}
	}
}

func (d *DB) runSync(t syncTask) {
	d.mu.Lock()
	node := d.mlNodeLocked(t.peer)
	n, ok := d.networks[t.network]
	if !ok || node == nil || d.closed {
		d.mu.Unlock()
		return
	}
	chunks := d.bulkChunksLocked(n, t.respond, d.now())
	d.mu.Unlock()
	for _, c := range chunks {
		if err := d.ml.SendReliable(node, c); err != nil {
			d.log.Debug("bulk sync failed", "network", t.network, "peer", t.peer, "err", err)
			return
		}
		d.stats.sent(wire.TypeBulkSync, len(c))
	}
}

// bulkChunksLocked encodes n's replica in chunks of about bulkChunkSize;
// only the last one carries respond, so the peer answers once.
func (d *DB) bulkChunksLocked(n *network, respond bool, now time.Time) [][]byte {
	var (
		chunks  [][]byte
		msg     = wire.BulkSync{Sender: d.name, Network: n.id}
		size    int
		scratch []byte
	)
	seal := func() {
		chunks = append(chunks, msg.Append(nil))
		msg.Records, msg.Entries, size = nil, nil, 0
	}
	// fit makes room for an item that encodes as scratch.
	fit := func() {
		if size > 0 && size+len(scratch) > bulkChunkSize {
			seal()
		}
		size += len(scratch)
	}
	for _, r := range d.records.ofNetwork(n.id, now) {
		if r.Leave && r.TTL <= 0 {
			continue
		}
		scratch = r.Append(scratch[:0])
		fit()
		msg.Records = append(msg.Records, r)
	}
	n.each(func(id entryID, r *entryRec) {
		ev := wireEntry(id, r, now)
		if ev.Deleted && ev.TTL <= 0 {
			return
		}
		scratch = ev.Append(scratch[:0])
		fit()
		msg.Entries = append(msg.Entries, ev)
	})
	msg.Respond = respond
	seal()
	return chunks
}

// bulkSyncRound prepares this interval's digests (digest.go), which start
// a full exchange only where replicas differ, and tries to reach one failed
// member again.
func (d *DB) bulkSyncRound() []outMsg {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	out := d.digestRoundLocked(d.now())
	var failed []string
	for name, m := range d.members {
		if m.state == StateFailed && m.addr.IsValid() {
			failed = append(failed, name+"/"+m.addr.String())
		}
	}
	if len(failed) > 0 {
		// memberlist on its own never talks to a node again once it has
		// given up on it, so without this a partition that outlasts
		// failure detection would split the cluster for good.
		d.joinLocked(failed[rand.IntN(len(failed))], d.reconnecting)
	}
	return out
}

// joinLocked runs memberlist's Join with addr ("name/host:port") in the
// background, unless busy shows one already running. A Join with a member
// is a full push/pull: both merge each other's member list and membership
// records. It reports whether the Join started.
func (d *DB) joinLocked(addr string, busy chan struct{}) bool {
	if d.closed {
		return false
	}
	select {
	case busy <- struct{}{}:
	default:
		return false
	}
	// Added under mu with closed unset, so Shutdown's Wait covers it.
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer func() { <-busy }()
		if _, err := d.ml.Join([]string{addr}); err != nil {
			d.log.Debug("push/pull failed", "node", addr, "err", err)
		}
	}()
	return true
}

// pushPullLocked starts a memberlist push/pull with a known member at its
// last address unless one is already running, and reports whether it did.
func (d *DB) pushPullLocked(peer string) bool {
	m := d.members[peer]
	if m == nil || !m.addr.IsValid() {
		return false
	}
	return d.joinLocked(peer+"/"+m.addr.String(), d.pushPulling)
}
