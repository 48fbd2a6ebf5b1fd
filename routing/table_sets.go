package routing

import "maps"

// Whole-set replacements, for control planes that recompute a network's
// state from scratch (level-triggered) rather than apply deltas. They mark
// the network changed only when the set really differs, so recomputing an
// unchanged state publishes nothing.

// SetMembers makes peers the exact member set of network vni.
func (tx *Tx) SetMembers(vni uint32, peers []string) {
	n := tx.t.networks[vni]
	if n == nil {
		return
	}
	next := make(map[string]struct{}, len(peers))
	for _, p := range peers {
		next[p] = struct{}{}
	}
	if maps.Equal(n.members, next) {
		return
	}
	n.members = next
	tx.dirty[vni] = true
}

// SetEndpoints makes eps the exact endpoint set of network vni.
func (tx *Tx) SetEndpoints(vni uint32, eps []Endpoint) {
	n := tx.t.networks[vni]
	if n == nil {
		return
	}
	next := make(map[epKey]string, len(eps))
	for _, e := range eps {
		next[epKey{e.MAC, e.IP}] = e.Node
	}
	if maps.Equal(n.endpoints, next) {
		return
	}
	n.endpoints = next
	tx.dirty[vni] = true
}

// PeerNames lists the peers in the table.
func (tx *Tx) PeerNames() []string {
	out := make([]string, 0, len(tx.t.peers))
	for name := range tx.t.peers {
		out = append(out, name)
	}
	return out
}

// NetworkVNIs lists the networks in the table.
func (tx *Tx) NetworkVNIs() []uint32 {
	out := make([]uint32, 0, len(tx.t.networks))
	for vni := range tx.t.networks {
		out = append(out, vni)
	}
	return out
}
