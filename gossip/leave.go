package gossip

import (
	"sync"
	"time"

	"meshnet.dev/meshnet/gossip/wire"
)

// defaultLeaveTimeout bounds Leave when the caller gives no timeout; without
// one memberlist would wait for its leave broadcast forever.
const defaultLeaveTimeout = 5 * time.Second

// Leave leaves the cluster gracefully: it deletes all of this node's
// entries, leaves every network, retracts its cluster presence (so peers
// see it as left, not failed), pushes all that to a few members of each
// network over streams, leaves memberlist and shuts down. timeout bounds
// the whole leave: the pushes to different peers run at once and every
// dial ends by the deadline, so a node whose network has gone (a laptop
// whose lid closed, a VM whose interface vanished) still stops in time.
// A timeout of 0 or less means defaultLeaveTimeout.
func (d *DB) Leave(timeout time.Duration) error {
	if timeout <= 0 {
		timeout = defaultLeaveTimeout
	}
	d.mu.Lock()
	if err := d.changeableLocked(); err != nil {
		d.mu.Unlock()
		return err
	}
	d.leaving = true
	now := d.now()
	// Each peer gets its pushes in order: the networks' deletes first, the
	// cluster scope's last, so peers learn of the leave after the deletes.
	pushes := map[string][][]byte{}
	for _, id := range d.sortedNetworkIDsLocked() {
		if id == ClusterScope {
			continue
		}
		n := d.networks[id]
		msg := wire.BulkSync{Sender: d.name, Network: id}
		msg.Entries = d.leaveNetworkLocked(n, now)
		msg.Records = []wire.NetRecord{wireRecord(recordID{d.name, id}, d.records.get(id, d.name), now)}
		b := msg.Append(nil)
		for _, to := range pickRandom(d.networkPeersLocked(id), d.cfg.Fanout) {
			pushes[to] = append(pushes[to], b)
		}
	}
	n := d.networks[ClusterScope]
	d.tombstoneOwnLocked(n, now)
	d.records.set(ClusterScope, d.name, &memberRec{ltime: d.netClock.Increment(), leave: true, reapAt: now.Add(d.cfg.TombstoneTTL)})
	d.queueRecordLocked(recordID{d.name, ClusterScope})
	cluster := wire.BulkSync{Sender: d.name, Network: ClusterScope, Entries: n.wireEntriesOf(d.name, now)}
	for network, nodes := range d.records {
		if r := nodes[d.name]; r != nil {
			cluster.Records = append(cluster.Records, wireRecord(recordID{d.name, network}, r, now))
		}
	}
	b := cluster.Append(nil)
	for _, to := range pickRandom(d.networkPeersLocked(ClusterScope), d.cfg.Fanout) {
		pushes[to] = append(pushes[to], b)
	}
	d.mu.Unlock()

	// memberlist's own leave broadcast gets the last fifth of the budget.
	end := time.Now().Add(timeout)
	deadline := end.Add(-timeout / 5)
	d.trans.limitDials(deadline)
	d.pushAll(pushes, deadline)
	d.awaitRecordSent(recordID{d.name, ClusterScope}, deadline)
	err := d.ml.Leave(max(time.Until(end), time.Millisecond))
	if serr := d.Shutdown(); err == nil {
		err = serr
	}
	return err
}

// pushAll sends each peer its messages in order over streams, all peers
// at once, and returns when every push is done or deadline has passed
// (dials end by then; Shutdown closes what is left).
func (d *DB) pushAll(pushes map[string][][]byte, deadline time.Time) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for to, msgs := range pushes {
		wg.Go(func() {
			for _, b := range msgs {
				// Looked up now: a peer may have moved meanwhile.
				node := d.mlNode(to)
				if node == nil || time.Now().After(deadline) {
					return
				}
				if err := d.ml.SendReliable(node, b); err != nil {
					d.log.Debug("leave push failed", "to", to, "err", err)
					continue // the peer may have moved: try the next push
				}
				d.stats.sent(wire.TypeBulkSync, len(b))
			}
		})
	}
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Until(deadline)):
	}
}

// awaitRecordSent waits until our fanout has sent the record as often as
// it sends anything (it leaves the queue then), or until deadline. Peers
// then hear that we leave before memberlist's own leave message reaches
// them, and see us as left rather than failed.
func (d *DB) awaitRecordSent(id recordID, deadline time.Time) {
	t := time.NewTicker(d.cfg.GossipInterval / 2)
	defer t.Stop()
	for time.Now().Before(deadline) {
		d.mu.Lock()
		_, queued := d.netQueue.items[id]
		d.mu.Unlock()
		if !queued {
			break
		}
		<-t.C
	}
	// One more round lets the last receivers relay it.
	select {
	case <-time.After(min(d.cfg.GossipInterval, time.Until(deadline))):
	case <-d.stop:
	}
}
