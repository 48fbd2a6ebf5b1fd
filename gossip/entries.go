package gossip

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"meshnet.dev/meshnet/gossip/wire"
)

// ErrNotJoined is returned by Put and Delete for a network this node has
// not joined.
var ErrNotJoined = errors.New("gossip: network not joined")

func validateEntry(network, table, key string, value []byte) error {
	switch {
	case table == "" || len(table) > MaxTableNameLen:
		return fmt.Errorf("gossip: table name %q must be 1 to %d bytes", table, MaxTableNameLen)
	case key == "" || len(key) > MaxKeyLen:
		return fmt.Errorf("gossip: key in table %q must be 1 to %d bytes, not %d", table, MaxKeyLen, len(key))
	case len(value) > MaxValueLen:
		return fmt.Errorf("gossip: value for %s/%s is %d bytes: use at most %d", table, key, len(value), MaxValueLen)
	case len(network) > MaxNetworkIDLen:
		return fmt.Errorf("gossip: network id is %d bytes: use at most %d", len(network), MaxNetworkIDLen)
	}
	return nil
}

// Put creates or updates this node's entry (network, table, key). The
// network must be joined (ClusterScope always is). value is copied.
func (d *DB) Put(network, table, key string, value []byte) error {
	if err := validateEntry(network, table, key, value); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	n, err := d.joinedLocked(network)
	if err != nil {
		return err
	}
	id := entryID{table, key, d.name}
	if n.get(id) == nil && n.count >= MaxEntriesPerNetwork {
		return fmt.Errorf("gossip: network %q already holds %d entries, the most allowed: delete some first", network, MaxEntriesPerNetwork)
	}
	r := &entryRec{value: append([]byte{}, value...), ltime: d.clock.Increment()}
	n.set(id, r)
	d.disp.emit(Event{Kind: EntryPut, Entry: r.entry(network, id), Network: network})
	d.queueEntryLocked(n, id)
	return nil
}

// Delete deletes this node's entry (network, table, key), leaving a
// tombstone that lives TombstoneTTL. Deleting a missing entry does nothing.
func (d *DB) Delete(network, table, key string) error {
	if err := validateEntry(network, table, key, nil); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	n, err := d.joinedLocked(network)
	if err != nil {
		return err
	}
	d.deleteLocked(n, entryID{table, key, d.name}, d.now())
	return nil
}

func (d *DB) deleteLocked(n *network, id entryID, now time.Time) {
	old := n.get(id)
	if old == nil || old.deleted {
		return
	}
	r := &entryRec{value: old.value, ltime: d.clock.Increment(), deleted: true, reapAt: now.Add(d.cfg.TombstoneTTL)}
	n.set(id, r)
	d.disp.emit(Event{Kind: EntryDelete, Entry: r.entry(n.id, id), Network: n.id})
	d.queueEntryLocked(n, id)
}

func (d *DB) joinedLocked(network string) (*network, error) {
	if err := d.changeableLocked(); err != nil {
		return nil, err
	}
	n, ok := d.networks[network]
	if !ok {
		return nil, fmt.Errorf("%w: %q (call JoinNetwork first)", ErrNotJoined, network)
	}
	return n, nil
}

func (d *DB) queueEntryLocked(n *network, id entryID) {
	d.stats.drop(dropQueueFull, n.queue.push(id, maxQueuedEvents))
}

// Lookup returns the visible live entries for key, one per owner, sorted
// by owner. Entries of failed owners are hidden.
func (d *DB) Lookup(network, table, key string) []Entry {
	d.mu.Lock()
	defer d.mu.Unlock()
	n, ok := d.networks[network]
	if !ok {
		return nil
	}
	owners := n.tables[table][key]
	var out []Entry
	for _, o := range sortedOwners(owners) {
		if r := owners[o]; !r.deleted && d.members.alive(o) {
			out = append(out, r.entry(network, entryID{table, key, o}))
		}
	}
	return out
}

// Walk calls fn for every visible live entry of table, ordered by key and
// then owner, until fn returns false. fn runs without DB locks held, on a
// snapshot, and may call back into the DB.
func (d *DB) Walk(network, table string, fn func(Entry) bool) {
	d.mu.Lock()
	n, ok := d.networks[network]
	var snap []Entry
	if ok {
		for _, key := range n.sortedKeys(table) {
			owners := n.tables[table][key]
			for _, o := range sortedOwners(owners) {
				if r := owners[o]; !r.deleted && d.members.alive(o) {
					snap = append(snap, r.entry(network, entryID{table, key, o}))
				}
			}
		}
	}
	d.mu.Unlock()
	for _, e := range snap {
		if !fn(e) {
			return
		}
	}
}

// applyEntryLocked merges an event for network n and reports whether it
// changed the stored state (and so should be relayed). An event wins only
// with a strictly greater Lamport time than the stored record.
func (d *DB) applyEntryLocked(n *network, ev wire.TableEvent, from string, now time.Time) bool {
	if ev.Owner == d.name {
		d.checkOwnEntryLocked(n, ev, now)
		return false
	}
	m := d.members[ev.Owner]
	if m == nil {
		d.stats.drop(dropUnknownOwner, 1)
		d.holdEntryLocked(ev.Owner, from, n.id, ev, now)
		return false
	}
	if ev.LTime > d.clock.Time()+maxLTimeAhead {
		d.stats.drop(dropLTimeJump, 1)
		return false
	}
	d.clock.Witness(ev.LTime)
	if !ev.Deleted && d.records.retracted(n.id, ev.Owner) {
		// The owner has left the network (or the cluster): a copy of its
		// entry still in flight is stored as deleted, so every replica that
		// knows of the leave agrees, whatever order things arrived in.
		ev.Deleted, ev.TTL, ev.Value = true, d.cfg.TombstoneTTL, nil
	}
	id := entryID{ev.Table, ev.Key, ev.Owner}
	old := n.get(id)
	if old != nil && ev.LTime <= old.ltime {
		d.stats.drop(dropStale, 1)
		return false
	}
	if old == nil && n.count >= MaxEntriesPerNetwork {
		d.stats.drop(dropTableFull, 1)
		return false
	}
	r := &entryRec{ltime: ev.LTime, deleted: ev.Deleted, value: ev.Value}
	if ev.Deleted {
		r.reapAt = now.Add(min(ev.TTL, d.cfg.TombstoneTTL))
		if old != nil {
			r.value = old.value
		}
	}
	n.set(id, r)
	if !m.visible() {
		return true
	}
	switch wasLive := old != nil && !old.deleted; {
	case !ev.Deleted:
		d.disp.emit(Event{Kind: EntryPut, Entry: r.entry(n.id, id), Network: n.id})
	case wasLive:
		d.disp.emit(Event{Kind: EntryDelete, Entry: r.entry(n.id, id), Network: n.id})
	}
	return true
}

// checkOwnEntryLocked handles an event that claims to be about one of our
// own entries. Echoes of what we wrote are normal. Anything newer or
// different was not written by this incarnation (a run before a restart,
// or a forgery): it is dropped, and our real state is re-asserted with a
// later time so that it wins everywhere.
func (d *DB) checkOwnEntryLocked(n *network, ev wire.TableEvent, now time.Time) {
	id := entryID{ev.Table, ev.Key, d.name}
	ours := n.get(id)
	switch {
	case ours != nil && ev.LTime < ours.ltime:
		return
	case ours != nil && ev.LTime == ours.ltime && ev.Deleted == ours.deleted &&
		(ev.Deleted || bytes.Equal(ev.Value, ours.value)):
		return
	case ours == nil && ev.Deleted:
		return // absent and deleted agree
	}
	d.stats.drop(dropForeignOwner, 1)
	if ev.LTime > d.clock.Time()+maxLTimeAhead {
		d.stats.drop(dropLTimeJump, 1)
		return
	}
	d.clock.Witness(ev.LTime)
	if ours == nil {
		if n.count >= MaxEntriesPerNetwork {
			return
		}
		ours = &entryRec{deleted: true, reapAt: now.Add(d.cfg.TombstoneTTL)}
		n.set(id, ours)
	}
	ours.ltime = d.clock.Increment()
	d.queueEntryLocked(n, id)
}
