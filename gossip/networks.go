package gossip

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"meshnet.dev/meshnet/gossip/wire"
)

// JoinNetwork makes this node a member of network id: it starts receiving,
// storing and relaying the network's entries, announces its membership
// cluster-wide, and bulk-syncs the table from members right away. Joining
// twice, or joining ClusterScope, does nothing.
func (d *DB) JoinNetwork(id string) error {
	if len(id) > MaxNetworkIDLen {
		return fmt.Errorf("gossip: network id is %d bytes: use at most %d", len(id), MaxNetworkIDLen)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.changeableLocked(); err != nil {
		return err
	}
	if _, ok := d.networks[id]; ok {
		return nil
	}
	// Both maps also hold ClusterScope, which MaxNetworks doesn't count.
	if len(d.networks)-1 >= MaxNetworks {
		return fmt.Errorf("gossip: joining network %q: already in %d networks, the most a node may join", id, MaxNetworks)
	}
	if _, ok := d.records[id]; !ok && len(d.records)-1 >= MaxNetworks {
		return fmt.Errorf("gossip: joining network %q: the cluster already has %d networks, the most supported", id, MaxNetworks)
	}
	n := newNetwork(id)
	d.networks[id] = n
	d.records.set(id, d.name, &memberRec{ltime: d.netClock.Increment()})
	d.queueRecordLocked(recordID{d.name, id})
	d.disp.emit(Event{Kind: NetworkJoin, Network: id, Member: Member{Name: d.name}})
	for _, p := range pickRandom(d.networkPeersLocked(id), joinSyncPeers) {
		n.joinSyncs++
		d.askJoinSyncLocked(n, p)
	}
	return nil
}

// LeaveNetwork deletes this node's entries in network id, announces that it
// left, and forgets the network's table (watchers get EntryDelete for every
// entry they could see). Members get the deletes right away, best effort;
// the leave record makes them delete our entries even if those are lost.
// Leaving a network not joined does nothing.
func (d *DB) LeaveNetwork(id string) error {
	if id == ClusterScope {
		return errors.New("gossip: the cluster scope cannot be left; use Leave to leave the cluster")
	}
	d.mu.Lock()
	if err := d.changeableLocked(); err != nil {
		d.mu.Unlock()
		return err
	}
	n, ok := d.networks[id]
	if !ok {
		d.mu.Unlock()
		return nil
	}
	now := d.now()
	peers := pickRandom(d.networkPeersLocked(id), d.cfg.Fanout)
	gone := d.leaveNetworkLocked(n, now)
	d.mu.Unlock()
	head := wire.TableEvents{Sender: d.name, Network: id}
	p := packer{head: head.AppendHead, max: maxQueuedEvents}
	for i := range gone {
		p.add(gone[i].Append(nil))
	}
	p.seal()
	var out []outMsg
	for _, to := range peers {
		for _, b := range p.out {
			out = append(out, outMsg{to: to, typ: wire.TypeTableEvents, payload: b})
		}
	}
	d.sendAll(out)
	return nil
}

// leaveNetworkLocked does LeaveNetwork's state changes and returns our
// tombstones in n, as they travel, for telling members directly.
func (d *DB) leaveNetworkLocked(n *network, now time.Time) []wire.TableEvent {
	d.tombstoneOwnLocked(n, now)
	var gone []wire.TableEvent
	n.each(func(id entryID, r *entryRec) {
		if id.owner == d.name && r.deleted {
			gone = append(gone, wireEntry(id, r, now))
		}
	})
	d.records.set(n.id, d.name, &memberRec{ltime: d.netClock.Increment(), leave: true, reapAt: now.Add(d.cfg.TombstoneTTL)})
	d.queueRecordLocked(recordID{d.name, n.id})
	for _, id := range n.sortedTables() {
		for _, key := range n.sortedKeys(id) {
			owners := n.tables[id][key]
			for _, owner := range sortedOwners(owners) {
				if r := owners[owner]; !r.deleted && d.members.alive(owner) && owner != d.name {
					d.disp.emit(Event{Kind: EntryDelete, Entry: r.entry(n.id, entryID{id, key, owner}), Network: n.id})
				}
			}
		}
	}
	d.disp.emit(Event{Kind: NetworkLeave, Network: n.id, Member: Member{Name: d.name}})
	delete(d.networks, n.id)
	return gone
}

// tombstoneOwnLocked deletes all our live entries in n.
func (d *DB) tombstoneOwnLocked(n *network, now time.Time) {
	for _, e := range n.ownerEntries(d.name) {
		d.deleteLocked(n, entryID{e.Table, e.Key, e.Owner}, now)
	}
}

// Networks returns the networks this node has joined, sorted, without
// ClusterScope.
func (d *DB) Networks() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]string, 0, len(d.networks))
	for id := range d.networks {
		if id != ClusterScope {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// NetworkMembers returns the live nodes in network id, this node included
// if it joined, sorted. For ClusterScope it is every live node.
func (d *DB) NetworkMembers(id string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.networkPeersLocked(id)
	if _, ok := d.networks[id]; ok {
		out = append(out, d.name)
		slices.Sort(out)
	}
	return out
}

func (d *DB) sortedNetworkIDsLocked() []string {
	out := make([]string, 0, len(d.networks))
	for id := range d.networks {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}
