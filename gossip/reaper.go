package gossip

import "time"

// The reaper forgets what has outlived its purpose: tombstones and leave
// records whose lifetime ran out, failed nodes (and their hidden entries)
// after NodeReapTimeout, and nodes that left after TombstoneTTL.

const (
	minReapInterval = 10 * time.Millisecond
	maxReapInterval = 5 * time.Second
)

// reapInterval checks often enough that nothing lives more than about a
// tenth longer than its lifetime.
func reapInterval(cfg Config) time.Duration {
	v := min(cfg.TombstoneTTL, cfg.NodeReapTimeout) / 10
	return min(max(v, minReapInterval), maxReapInterval)
}

func (d *DB) reap(now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, n := range d.networks {
		n.each(func(id entryID, r *entryRec) {
			if r.deleted && !now.Before(r.reapAt) {
				n.remove(id)
			}
		})
	}
	for network, nodes := range d.records {
		for node, r := range nodes {
			if r.leave && !now.Before(r.reapAt) {
				d.removeRecordLocked(network, node)
			}
		}
	}
	for name, m := range d.members {
		switch {
		case name == d.name:
		case m.state == StateFailed && now.Sub(m.since) >= d.cfg.NodeReapTimeout,
			m.state == StateLeft && now.Sub(m.since) >= d.cfg.TombstoneTTL:
			d.reapNodeLocked(name)
		}
	}
}

// reapNodeLocked forgets a node and everything it owned. Its entries were
// already hidden or deleted, so no events are emitted.
func (d *DB) reapNodeLocked(name string) {
	for _, n := range d.networks {
		n.each(func(id entryID, _ *entryRec) {
			if id.owner == name {
				n.remove(id)
			}
		})
	}
	for network := range d.records {
		if _, ok := d.records[network][name]; ok {
			d.removeRecordLocked(network, name)
		}
	}
	delete(d.members, name)
	d.viv.forget(name)
}
