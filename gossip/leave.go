package gossip

import (
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
// the pushes and memberlist's leave broadcast each; a push already under
// way may add memberlist's TCPTimeout. A timeout of 0 or less means
// defaultLeaveTimeout.
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
	type push struct {
		peers []string
		msg   wire.BulkSync
	}
	var pushes []push
	for _, id := range d.sortedNetworkIDsLocked() {
		if id == ClusterScope {
			continue
		}
		n := d.networks[id]
		p := push{peers: pickRandom(d.networkPeersLocked(id), d.cfg.Fanout)}
		p.msg = wire.BulkSync{Sender: d.name, Network: id}
		p.msg.Entries = d.leaveNetworkLocked(n, now)
		p.msg.Records = []wire.NetRecord{wireRecord(recordID{d.name, id}, d.records.get(id, d.name), now)}
		pushes = append(pushes, p)
	}
	// The cluster-scope push goes last and carries every record of ours,
	// presence retracted, so peers learn of the leave after the deletes.
	n := d.networks[ClusterScope]
	d.tombstoneOwnLocked(n, now)
	d.records.set(ClusterScope, d.name, &memberRec{ltime: d.netClock.Increment(), leave: true, reapAt: now.Add(d.cfg.TombstoneTTL)})
	d.queueRecordLocked(recordID{d.name, ClusterScope})
	cluster := push{peers: pickRandom(d.networkPeersLocked(ClusterScope), d.cfg.Fanout)}
	cluster.msg = wire.BulkSync{Sender: d.name, Network: ClusterScope, Entries: n.wireEntriesOf(d.name, now)}
	for network, nodes := range d.records {
		if r := nodes[d.name]; r != nil {
			cluster.msg.Records = append(cluster.msg.Records, wireRecord(recordID{d.name, network}, r, now))
		}
	}
	pushes = append(pushes, cluster)
	d.mu.Unlock()

	deadline := time.Now().Add(timeout)
	for _, p := range pushes {
		b := p.msg.Append(nil)
		for _, to := range p.peers {
			// Looked up now: a peer may have moved while the pushes
			// before took their time.
			node := d.mlNode(to)
			if node == nil || time.Now().After(deadline) {
				continue
			}
			if err := d.ml.SendReliable(node, b); err != nil {
				d.log.Debug("leave push failed", "to", to, "err", err)
				continue
			}
			d.stats.sent(wire.TypeBulkSync, len(b))
		}
	}
	d.awaitRecordSent(recordID{d.name, ClusterScope}, deadline)
	err := d.ml.Leave(timeout)
	if serr := d.Shutdown(); err == nil {
		err = serr
	}
	return err
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
