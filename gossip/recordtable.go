package gossip

import (
	"slices"
	"time"

	"meshnet.dev/meshnet/gossip/wire"
)

// memberRec is the latest membership record of one node in one network.
type memberRec struct {
	ltime  uint64
	leave  bool
	reapAt time.Time // leave records: when to forget them
}

type recordID struct{ node, network string }

// recordTable holds the membership records this node knows: network ->
// node -> record, ClusterScope (presence) included. It is guarded by the
// DB's mu; the merge rules are the DB's (records.go).
type recordTable map[string]map[string]*memberRec

func (t recordTable) get(network, node string) *memberRec { return t[network][node] }

func (t recordTable) set(network, node string, r *memberRec) {
	nodes, ok := t[network]
	if !ok {
		nodes = make(map[string]*memberRec)
		t[network] = nodes
	}
	nodes[node] = r
}

func (t recordTable) remove(network, node string) {
	delete(t[network], node)
	if len(t[network]) == 0 {
		delete(t, network)
	}
}

// wireRecord returns a stored record as it travels now.
func wireRecord(id recordID, r *memberRec, now time.Time) wire.NetRecord {
	nr := wire.NetRecord{Node: id.node, Network: id.network, LTime: r.ltime, Leave: r.leave}
	if r.leave {
		nr.TTL = r.reapAt.Sub(now)
	}
	return nr
}

// travelling returns record id as it travels now, or false if there is
// none or it is a leave record whose lifetime ran out.
func (t recordTable) travelling(id recordID, now time.Time) (wire.NetRecord, bool) {
	r := t.get(id.network, id.node)
	if r == nil {
		return wire.NetRecord{}, false
	}
	nr := wireRecord(id, r, now)
	return nr, !nr.Leave || nr.TTL > 0
}

// ofNetwork returns the records of network as they travel now: a bulk
// sync of a network carries its membership.
func (t recordTable) ofNetwork(network string, now time.Time) []wire.NetRecord {
	out := make([]wire.NetRecord, 0, len(t[network]))
	for node, r := range t[network] {
		out = append(out, wireRecord(recordID{node, network}, r, now))
	}
	return out
}

// all returns every record, for memberlist's push/pull, which is how
// nodes outside a network learn of a join they missed.
func (t recordTable) all(now time.Time) []wire.NetRecord {
	var out []wire.NetRecord
	for network := range t {
		out = append(out, t.ofNetwork(network, now)...)
	}
	return out
}

// networksOf returns the networks node is a member of, sorted.
func (t recordTable) networksOf(node string) []string {
	var out []string
	for network, nodes := range t {
		if r := nodes[node]; r != nil && !r.leave && network != ClusterScope {
			out = append(out, network)
		}
	}
	slices.Sort(out)
	return out
}

// retracted reports whether owner's latest record says it left network,
// or left the cluster.
func (t recordTable) retracted(network, owner string) bool {
	if r := t.get(network, owner); r != nil && r.leave {
		return true
	}
	r := t.get(ClusterScope, owner)
	return r != nil && r.leave
}

// addSummary adds to g the records of network that a full exchange would
// carry: leave records only until they expire.
func (t recordTable) addSummary(g *wire.Summary, network string, now time.Time) {
	for node, r := range t[network] {
		if r.leave && !r.reapAt.After(now) {
			continue
		}
		g.Add(wire.RecordHash(&wire.NetRecord{Node: node, Network: network, LTime: r.ltime, Leave: r.leave}))
	}
}
