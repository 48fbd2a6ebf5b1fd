package node

import (
	"bytes"
	"maps"
	"slices"
	"sync"

	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/keydist"
	"meshnet.dev/meshnet/node/config"
	"meshnet.dev/meshnet/node/tables"
	"meshnet.dev/meshnet/routing"
)

// Static peers. The config's entries are published to the cluster in the
// static_peers table, owned by this node; every reconcile pass resolves
// the whole table (this node's rows included) into the peers it pairs
// with in WireGuard and routes to, so a peer listed on one node is reached
// from every member on its networks. Reload replaces the config's entries;
// the next pass publishes the change, and gossip carries it to every
// member's next pass, which removes a deleted peer from WireGuard, the
// peer table and every network in one go.

// configPeers holds the config's static peers: Reload writes them, the
// reconciler reads them; mu guards the slice, never changed in place.
type configPeers struct {
	mu    sync.Mutex
	peers []config.PeerSpec
}

func (c *configPeers) get() []config.PeerSpec {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peers
}

func (c *configPeers) set(p []config.PeerSpec) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.peers = p
}

// staticPeer is a config entry in its gossip form.
func staticPeer(p config.PeerSpec) tables.StaticPeer {
	sp := tables.StaticPeer{Name: p.Name, Underlay: p.Underlay, Key: p.Key, WG: p.WG, PSK: p.PSK, VTEP: p.VTEP}
	for _, e := range p.Endpoints {
		sp.Endpoints = append(sp.Endpoints, tables.StaticEndpoint{Network: e.Network, IP: e.IP, MAC: e.MAC})
	}
	return sp
}

// publishStatic makes this node's rows of the static_peers table the
// config's static peers, writing only what changed.
func (n *Node) publishStatic() {
	want := map[string][]byte{}
	for _, p := range n.static.get() {
		b, err := staticPeer(p).Encode()
		if err != nil {
			n.log.Error("publishing static peer", "peer", p.Name, "err", err)
			continue
		}
		want[p.Name] = b
	}
	for _, e := range n.catalog.Rows(gossip.ClusterScope, tables.StaticPeers) {
		if e.Owner != n.spec.Name {
			continue
		}
		b, listed := want[e.Key]
		switch {
		case !listed:
			if err := n.db.Delete(gossip.ClusterScope, tables.StaticPeers, e.Key); err != nil {
				n.log.Warn("withdrawing static peer", "peer", e.Key, "err", err)
			}
		case bytes.Equal(b, e.Value):
			delete(want, e.Key)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if err := n.db.Put(gossip.ClusterScope, tables.StaticPeers, name, want[name]); err != nil {
			n.log.Warn("publishing static peer", "peer", name, "err", err)
		}
	}
}

// syncStatic publishes the config's static peers and resolves the
// cluster's; the reconciler keeps the result for the pass and the view.
// It returns what people should know about peers left out.
func (n *Node) syncStatic(members []gossip.Member) []string {
	n.publishStatic()
	static, problems := tables.ResolveStatic(n.catalog.Rows(gossip.ClusterScope, tables.StaticPeers), members, n.keys.IsEvicted)
	n.rec.static = static
	return problems
}

// staticRoutes are the forwarding table's entries for the static peers.
func staticRoutes(static []tables.StaticPeer) []routing.PeerConfig {
	out := make([]routing.PeerConfig, 0, len(static))
	for _, p := range static {
		out = append(out, p.Route())
	}
	return out
}

// clusterFacts is what CheckPeers checks static peers against: this
// node's key and, once gossip runs, the members and network definitions.
func (n *Node) clusterFacts() config.Cluster {
	c := config.Cluster{SelfKey: n.keys.Public(), Members: map[string]keydist.NodePublic{}, Networks: map[string]config.ClusterNetwork{}}
	if n.db == nil {
		return c
	}
	for _, m := range n.db.Members() {
		if m.Name != n.spec.Name {
			meta, _ := tables.DecodeMeta(m.Meta)
			c.Members[m.Name] = meta.Key
		}
	}
	won, _ := n.catalog.Defs()
	for name, d := range won {
		c.Networks[name] = config.ClusterNetwork{Subnet: d.Subnet, Encrypted: d.Encrypted}
	}
	return c
}

// peerChanges lists the static peers added (+name), removed (-name) and
// changed (~name) from old to new, sorted by name.
func peerChanges(old, new []config.PeerSpec) []string {
	enc := func(ps []config.PeerSpec) map[string][]byte {
		m := map[string][]byte{}
		for _, p := range ps {
			m[p.Name], _ = staticPeer(p).Encode()
		}
		return m
	}
	before, after := enc(old), enc(new)
	var out []string
	for _, name := range slices.Sorted(maps.Keys(after)) {
		b, had := before[name]
		switch {
		case !had:
			out = append(out, "+"+name)
		case !bytes.Equal(b, after[name]):
			out = append(out, "~"+name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(before)) {
		if _, kept := after[name]; !kept {
			out = append(out, "-"+name)
		}
	}
	return out
}
