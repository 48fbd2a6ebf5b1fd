package gossip

import (
	"cmp"
	"maps"
	"slices"
	"time"

	"meshnet.dev/meshnet/gossip/wire"
)

// entryRec is the stored state of one entry: a value or a tombstone.
// Records are only replaced or re-stamped under the DB lock, never edited
// in place otherwise, so their value slices can be handed out read-only.
type entryRec struct {
	value   []byte // for a tombstone, the last value (for delete events)
	ltime   uint64
	deleted bool
	reapAt  time.Time // tombstones: when to forget the delete
}

// entryID names an entry within one network.
type entryID struct{ table, key, owner string }

// network is this node's replica of one joined network's table.
type network struct {
	id     string
	tables map[string]map[string]map[string]*entryRec // table -> key -> owner
	count  int                                        // records, tombstones included
	queue  eventQueue[entryID]
	// synced is set once a bulk sync from a member has been merged, so a
	// node that joined before it knew any member asks the first ones it
	// learns of; joinSyncs counts those requests, at most joinSyncPeers,
	// so that nodes creating a network together don't sync n² times.
	// Until synced, one more member is asked every joinSyncRetry after
	// joinAsked, joinRetries times at most (retryJoinSyncsLocked).
	synced      bool
	joinSyncs   int
	joinAsked   time.Time
	joinRetries int
}

func newNetwork(id string) *network {
	return &network{id: id, tables: make(map[string]map[string]map[string]*entryRec)}
}

func (n *network) get(id entryID) *entryRec {
	return n.tables[id.table][id.key][id.owner]
}

func (n *network) set(id entryID, r *entryRec) {
	keys, ok := n.tables[id.table]
	if !ok {
		keys = make(map[string]map[string]*entryRec)
		n.tables[id.table] = keys
	}
	owners, ok := keys[id.key]
	if !ok {
		owners = make(map[string]*entryRec)
		keys[id.key] = owners
	}
	if _, ok := owners[id.owner]; !ok {
		n.count++
	}
	owners[id.owner] = r
}

func (n *network) remove(id entryID) {
	owners := n.tables[id.table][id.key]
	if _, ok := owners[id.owner]; !ok {
		return
	}
	delete(owners, id.owner)
	n.count--
	if len(owners) == 0 {
		delete(n.tables[id.table], id.key)
		if len(n.tables[id.table]) == 0 {
			delete(n.tables, id.table)
		}
	}
	n.queue.remove(id)
}

// each calls fn for every record, in no particular order; fn may remove
// the record it is given.
func (n *network) each(fn func(entryID, *entryRec)) {
	for table, keys := range n.tables {
		for key, owners := range keys {
			for owner, r := range owners {
				fn(entryID{table, key, owner}, r)
			}
		}
	}
}

// sortedKeys returns a table's keys in order, for deterministic walks.
func (n *network) sortedKeys(table string) []string {
	return slices.Sorted(maps.Keys(n.tables[table]))
}

// sortedTables returns the tables' names in order.
func (n *network) sortedTables() []string {
	return slices.Sorted(maps.Keys(n.tables))
}

func sortedOwners(owners map[string]*entryRec) []string {
	return slices.Sorted(maps.Keys(owners))
}

// ownerEntries returns owner's live entries, sorted.
func (n *network) ownerEntries(owner string) []Entry {
	var out []Entry
	n.each(func(id entryID, r *entryRec) {
		if id.owner == owner && !r.deleted {
			out = append(out, r.entry(n.id, id))
		}
	})
	slices.SortFunc(out, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(a.Table, b.Table), cmp.Compare(a.Key, b.Key), cmp.Compare(a.Owner, b.Owner))
	})
	return out
}

// wireEntriesOf returns owner's records, tombstones included, as they
// travel now.
func (n *network) wireEntriesOf(owner string, now time.Time) []wire.TableEvent {
	var out []wire.TableEvent
	n.each(func(id entryID, r *entryRec) {
		if id.owner == owner {
			out = append(out, wireEntry(id, r, now))
		}
	})
	return out
}

// wireEntry returns a stored record as it travels now.
func wireEntry(id entryID, r *entryRec, now time.Time) wire.TableEvent {
	ev := wire.TableEvent{Table: id.table, Key: id.key, Owner: id.owner, LTime: r.ltime, Deleted: r.deleted}
	if r.deleted {
		ev.TTL = r.reapAt.Sub(now)
	} else {
		ev.Value = r.value
	}
	return ev
}

// travelling returns entry id as it travels now, or false if there is
// none or it is a tombstone whose lifetime ran out.
func (n *network) travelling(id entryID, now time.Time) (wire.TableEvent, bool) {
	r := n.get(id)
	if r == nil {
		return wire.TableEvent{}, false
	}
	ev := wireEntry(id, r, now)
	return ev, !ev.Deleted || ev.TTL > 0
}

// addSummary adds to g the records a bulk sync of n would carry:
// tombstones only until they expire.
func (n *network) addSummary(g *wire.Summary, now time.Time) {
	n.each(func(id entryID, r *entryRec) {
		if r.deleted && !r.reapAt.After(now) {
			return
		}
		ev := wireEntry(id, r, now)
		g.Add(wire.EntryHash(&ev))
	})
}

func (r *entryRec) entry(network string, id entryID) Entry {
	return Entry{Network: network, Table: id.table, Key: id.key, Owner: id.owner, Value: r.value, LTime: r.ltime}
}
