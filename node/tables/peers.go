package tables

import (
	"cmp"
	"net/netip"
	"slices"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/keydist"
	"meshnet.dev/meshnet/routing"
)

// Peers lists the forwarding table's peers, sorted by name: every live
// member other than self whose metadata is readable and whose key is not
// evicted, reached at its VXLAN address and, with a key and a WireGuard
// endpoint, at its VTEP; then the static peers (StaticPeer.Route), unless
// a member has their name: a static peer never stands for a member.
func Peers(self string, members []gossip.Member, evicted func(keydist.NodePublic) bool, static []routing.PeerConfig) []routing.PeerConfig {
	want := map[string]routing.PeerConfig{}
	for _, m := range members {
		if m.Name == self || !Live(m) {
			continue
		}
		meta, err := DecodeMeta(m.Meta)
		if err != nil || (!meta.Key.IsZero() && evicted(meta.Key)) {
			continue
		}
		pc := routing.PeerConfig{Name: m.Name, Underlay: meta.VXLAN}
		if !meta.Key.IsZero() && meta.WG.IsValid() {
			pc.VTEP = netip.AddrPortFrom(keydist.VTEP(meta.Key), encap.Port)
		}
		want[m.Name] = pc
	}
	for _, p := range static {
		if _, member := want[p.Name]; !member {
			want[p.Name] = p
		}
	}
	out := make([]routing.PeerConfig, 0, len(want))
	for _, p := range want {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b routing.PeerConfig) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// SetPeers makes a forwarding table transaction's peers exactly want.
func SetPeers(tx *routing.Tx, want []routing.PeerConfig) {
	keep := map[string]bool{}
	for _, p := range want {
		keep[p.Name] = true
	}
	for _, name := range tx.PeerNames() {
		if !keep[name] {
			tx.RemovePeer(name)
		}
	}
	for _, p := range want {
		tx.SetPeer(p)
	}
}
