package gossip

import (
	"slices"
	"time"

	"meshnet.dev/meshnet/gossip/wire"
)

// removeRecordLocked forgets a record, and any fanout of it.
func (d *DB) removeRecordLocked(network, node string) {
	d.records.remove(network, node)
	d.netQueue.remove(recordID{node, network})
}

// queueRecordLocked queues a changed record for cluster-wide fanout.
func (d *DB) queueRecordLocked(id recordID) {
	d.stats.drop(dropQueueFull, d.netQueue.push(id, maxQueuedEvents))
}

// applyRecordLocked merges a membership record from the network and
// reports whether it changed anything (and so should be relayed).
func (d *DB) applyRecordLocked(r wire.NetRecord, from string, now time.Time) bool {
	// records always holds ClusterScope, which MaxNetworks doesn't count.
	if _, ok := d.records[r.Network]; !ok && len(d.records)-1 >= MaxNetworks {
		d.stats.drop(dropTooManyNetworks, 1)
		return false
	}
	if r.Node == d.name {
		d.checkOwnRecordLocked(r, now)
		return false
	}
	if !d.members.known(r.Node) {
		d.stats.drop(dropUnknownOwner, 1)
		d.holdRecordLocked(r.Node, from, r, now)
		return false
	}
	if r.LTime > d.netClock.Time()+maxLTimeAhead {
		d.stats.drop(dropLTimeJump, 1)
		return false
	}
	d.netClock.Witness(r.LTime)
	old := d.records.get(r.Network, r.Node)
	if old != nil && r.LTime <= old.ltime {
		d.stats.drop(dropStale, 1)
		return false
	}
	rec := &memberRec{ltime: r.LTime, leave: r.Leave}
	if r.Leave {
		rec.reapAt = now.Add(min(r.TTL, d.cfg.TombstoneTTL))
	}
	d.records.set(r.Network, r.Node, rec)
	wasMember := old != nil && !old.leave
	switch {
	case r.Network == ClusterScope:
		if r.Leave {
			d.nodeLeftLocked(r.Node, now)
		}
	case !r.Leave && !wasMember:
		d.disp.emit(Event{Kind: NetworkJoin, Network: r.Network, Member: Member{Name: r.Node}})
		if n := d.networks[r.Network]; n != nil && !n.synced && n.joinSyncs < joinSyncPeers && d.members.alive(r.Node) {
			n.joinSyncs++
			d.askJoinSyncLocked(n, r.Node)
		}
	case r.Leave && wasMember:
		d.disp.emit(Event{Kind: NetworkLeave, Network: r.Network, Member: Member{Name: r.Node}})
		if n := d.networks[r.Network]; n != nil {
			d.retractOwnerLocked(n, r.Node, now)
		}
	}
	return true
}

// checkOwnRecordLocked handles a record that claims to be about us. Our
// own records coming back are normal; anything newer or different was not
// written by this incarnation (a previous run under our name, or a forgery)
// and is overridden by re-asserting our real state with a later time.
func (d *DB) checkOwnRecordLocked(r wire.NetRecord, now time.Time) {
	ours := d.records.get(r.Network, d.name)
	switch {
	case ours != nil && r.LTime < ours.ltime:
		return
	case ours != nil && r.LTime == ours.ltime && r.Leave == ours.leave:
		return
	case ours == nil && r.Leave:
		return // we are not a member: consistent
	}
	d.stats.drop(dropForeignOwner, 1)
	if r.LTime > d.netClock.Time()+maxLTimeAhead {
		d.stats.drop(dropLTimeJump, 1)
		return
	}
	d.netClock.Witness(r.LTime)
	if ours == nil {
		ours = &memberRec{leave: true, reapAt: now.Add(d.cfg.TombstoneTTL)}
		d.records.set(r.Network, d.name, ours)
	}
	ours.ltime = d.netClock.Increment()
	d.queueRecordLocked(recordID{d.name, r.Network})
}

// nodeLeftLocked handles a node's graceful leave: its entries become
// tombstones everywhere (it deleted them; this covers any tombstone that
// got lost) and, if memberlist already saw it go, it is marked left.
func (d *DB) nodeLeftLocked(node string, now time.Time) {
	for _, id := range d.sortedNetworkIDsLocked() {
		d.retractOwnerLocked(d.networks[id], node, now)
	}
	for network, nodes := range d.records {
		if r := nodes[node]; r != nil && !r.leave && network != ClusterScope {
			r.leave, r.reapAt = true, now.Add(d.cfg.TombstoneTTL)
			d.disp.emit(Event{Kind: NetworkLeave, Network: network, Member: Member{Name: node}})
		}
	}
	if m := d.members[node]; m != nil && m.state == StateFailed {
		m.state, m.since = StateLeft, now
		d.disp.emit(Event{Kind: MemberLeft, Member: d.memberLocked(m)})
	}
}

// retractOwnerLocked turns owner's live entries in n into tombstones at
// their current times, so a late copy of the same write loses.
func (d *DB) retractOwnerLocked(n *network, owner string, now time.Time) {
	visible := d.members.alive(owner)
	for _, e := range n.ownerEntries(owner) {
		id := entryID{e.Table, e.Key, e.Owner}
		old := n.get(id)
		n.set(id, &entryRec{value: old.value, ltime: old.ltime, deleted: true, reapAt: now.Add(d.cfg.TombstoneTTL)})
		if visible {
			d.disp.emit(Event{Kind: EntryDelete, Entry: e, Network: n.id})
		}
	}
}

// networkPeersLocked returns the live members of network other than us.
func (d *DB) networkPeersLocked(network string) []string {
	var out []string
	if network == ClusterScope {
		for name, m := range d.members {
			if name != d.name && m.visible() {
				out = append(out, name)
			}
		}
	} else {
		for node, r := range d.records[network] {
			if node != d.name && !r.leave && d.members.alive(node) {
				out = append(out, node)
			}
		}
	}
	slices.Sort(out)
	return out
}
