package gossip

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/hashicorp/memberlist"
)

// member is what this node knows about a cluster node.
type member struct {
	name  string
	addr  netip.AddrPort
	meta  []byte
	state MemberState
	since time.Time // last state change, local clock
	// node is our copy of memberlist's node (without Meta), to address
	// sends with: memberlist rewrites its own in place, under its lock, on
	// every newer alive message (new metadata, a node back from another
	// address), so no pointer of memberlist's is kept past a delegate call.
	node memberlist.Node
}

// update copies what memberlist reports of the node. memberlist calls our
// delegates under its lock and may rewrite n as soon as they return.
func (m *member) update(n *memberlist.Node) {
	m.node = *n
	m.node.Addr = slices.Clone(n.Addr)
	m.node.Meta = nil
	m.addr = addrPort(n)
	m.meta = slices.Clone(n.Meta)
}

// addrPort converts memberlist's address form.
func addrPort(n *memberlist.Node) netip.AddrPort {
	a, ok := netip.AddrFromSlice(n.Addr)
	if !ok {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(a.Unmap(), n.Port)
}

// mlNode is mlNodeLocked for callers not holding d.mu.
func (d *DB) mlNode(peer string) *memberlist.Node {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mlNodeLocked(peer)
}

// mlNodeLocked returns a copy of peer's node for memberlist's send calls,
// or nil unless peer is a live member other than us.
func (d *DB) mlNodeLocked(peer string) *memberlist.Node {
	m := d.members[peer]
	if m == nil || !m.visible() || peer == d.name || m.node.Name == "" {
		return nil
	}
	n := m.node
	return &n
}

// memberTable holds what this node knows about every cluster node, itself
// included, by name. It is guarded by the DB's mu.
type memberTable map[string]*member

// known reports whether node is a cluster member we know of, in any state:
// events of failed nodes are kept (hidden) for when they return.
func (t memberTable) known(node string) bool { return t[node] != nil }

// alive reports whether node is reachable.
func (t memberTable) alive(node string) bool {
	m := t[node]
	return m != nil && m.visible()
}

// visible reports whether the member's entries are shown: a failed node's
// entries are hidden until it returns or is reaped.
func (m *member) visible() bool { return m.state == StateAlive || m.state == StateSuspect }

// memberLocked snapshots m for an API caller or event. Must hold d.mu.
func (d *DB) memberLocked(m *member) Member {
	return Member{
		Name:     m.name,
		Addr:     m.addr,
		State:    m.state,
		Meta:     append([]byte(nil), m.meta...),
		Networks: d.records.networksOf(m.name),
	}
}

// Members returns every node this node knows of, itself included, failed
// and left nodes until they are reaped, sorted by name. memberlist does not
// expose suspicion, so live nodes are reported as StateAlive.
func (d *DB) Members() []Member {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Member, 0, len(d.members))
	for _, m := range d.members {
		out = append(out, d.memberLocked(m))
	}
	slices.SortFunc(out, func(a, b Member) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// SetMeta replaces this node's metadata and spreads it with membership.
func (d *DB) SetMeta(meta []byte) error {
	if len(meta) > memberlist.MetaMaxSize {
		return fmt.Errorf("gossip: metadata is %d bytes: use at most %d", len(meta), memberlist.MetaMaxSize)
	}
	d.mu.Lock()
	if err := d.changeableLocked(); err != nil {
		d.mu.Unlock()
		return err
	}
	d.meta = append([]byte(nil), meta...)
	d.mu.Unlock()
	// UpdateNode queues the new alive message at once and then waits for
	// it to be sent, up to the timeout, while any member is alive: with
	// members it cannot reach (stale keys, a partition) that was seconds of
	// a caller blocked. Its only error is that wait expiring; the message
	// still goes out with the next gossip.
	_ = d.ml.UpdateNode(time.Nanosecond)
	return nil
}

// onMemberJoin handles memberlist's join (or return) of a node.
func (d *DB) onMemberJoin(n *memberlist.Node) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m, ok := d.members[n.Name]
	if !ok {
		m = &member{name: n.Name}
		d.members[n.Name] = m
	}
	wasFailed := ok && m.state == StateFailed
	m.update(n)
	m.state, m.since = StateAlive, d.now()
	d.disp.emit(Event{Kind: MemberJoin, Member: d.memberLocked(m)})
	d.closeGapLocked(n.Name)
	if wasFailed {
		d.emitOwnerEntriesLocked(n.Name, EntryPut)
	}
}

// onMemberUpdate handles new metadata or address of a live node.
func (d *DB) onMemberUpdate(n *memberlist.Node) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m, ok := d.members[n.Name]
	if !ok {
		return
	}
	m.update(n)
	d.disp.emit(Event{Kind: MemberUpdate, Member: d.memberLocked(m)})
}

// onMemberLeave handles memberlist declaring a node dead. memberlist does
// not say whether it left or failed; a node that leaves gracefully first
// retracts its cluster-scope presence record, which is what we go by.
func (d *DB) onMemberLeave(n *memberlist.Node) {
	if n.Name == d.name {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	m, ok := d.members[n.Name]
	if !ok || !m.visible() {
		return
	}
	m.since = d.now()
	if r := d.records.get(ClusterScope, n.Name); r != nil && r.leave {
		m.state = StateLeft
		d.disp.emit(Event{Kind: MemberLeft, Member: d.memberLocked(m)})
		return
	}
	m.state = StateFailed
	d.disp.emit(Event{Kind: MemberFailed, Member: d.memberLocked(m)})
	// Hide, don't delete: the node may only be unreachable.
	d.emitOwnerEntriesLocked(n.Name, EntryDelete)
}

// emitOwnerEntriesLocked emits kind for every live entry of owner, when
// the owner's visibility changes.
func (d *DB) emitOwnerEntriesLocked(owner string, kind EventKind) {
	for _, id := range d.sortedNetworkIDsLocked() {
		n := d.networks[id]
		for _, e := range n.ownerEntries(owner) {
			d.disp.emit(Event{Kind: kind, Entry: e, Network: n.id})
		}
	}
}
