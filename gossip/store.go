package gossip

import (
	"slices"
	"strings"
	"time"
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
	keys := make([]string, 0, len(n.tables[table]))
	for k := range n.tables[table] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func sortedOwners(owners map[string]*entryRec) []string {
	out := make([]string, 0, len(owners))
	for o := range owners {
		out = append(out, o)
	}
	slices.SortFunc(out, strings.Compare)
	return out
}

func (r *entryRec) entry(network string, id entryID) Entry {
	return Entry{Network: network, Table: id.table, Key: id.key, Owner: id.owner, Value: r.value, LTime: r.ltime}
}
