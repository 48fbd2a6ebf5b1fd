package tables

import (
	"cmp"
	"net/netip"
	"slices"

	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/internal/packet"
	"meshnet.dev/meshnet/routing"
)

// NetworkInput is what one attached network's forwarding state is made
// from.
type NetworkInput struct {
	Self      string         // this node's name
	Def       NetDef         // the network's definition
	Members   []string       // the network's members as gossip knows them
	Endpoints []gossip.Entry // the network's endpoints table
	// Paired are the nodes the encrypted transport is paired with (nil:
	// there is no encrypted transport). An encrypted network lists only
	// endpoints of paired nodes: traffic to any other could only be
	// dropped, since its node's keys have not arrived yet.
	Paired map[string]bool
	// Static are endpoints behind static peers; their Node names the peer.
	Static []routing.Endpoint
}

// NetworkState is one network's members and endpoints as the forwarding
// table holds them, and the addresses claimed twice.
type NetworkState struct {
	Members    []string           // other nodes on the network
	Endpoints  []routing.Endpoint // this node's own have Node ""
	Duplicates []Duplicate
}

// Duplicate is one IP claimed by more than one endpoint.
type Duplicate struct {
	Network, IP string
	Winner      string   // owner whose endpoint is used
	Losers      []string // owners whose endpoints are ignored
}

// Network computes one network's state from gossip and the static peers.
// One IP is one endpoint: the earliest claim (Lamport time, then node
// name) wins everywhere, the others are reported and left out.
func Network(in NetworkInput) NetworkState {
	var st NetworkState
	for _, m := range in.Members {
		if m != in.Self {
			st.Members = append(st.Members, m)
		}
	}
	type owned struct {
		ep    routing.Endpoint
		ltime uint64
	}
	var eps []owned
	for _, e := range in.Endpoints {
		if in.Def.Encrypted && in.Paired != nil && e.Owner != in.Self && !in.Paired[e.Owner] {
			continue
		}
		ep, err := DecodeEndpoint(e, in.Def.Subnet)
		if err != nil {
			continue
		}
		eps = append(eps, owned{ep, e.LTime})
	}
	eps = dropRedundant(eps, func(o owned) routing.Endpoint { return o.ep })
	for _, ep := range in.Static {
		if !slices.Contains(st.Members, ep.Node) {
			st.Members = append(st.Members, ep.Node)
		}
		eps = append(eps, owned{ep, 0})
	}
	slices.SortFunc(eps, func(x, y owned) int {
		return cmp.Or(x.ep.IP.Compare(y.ep.IP), cmp.Compare(x.ltime, y.ltime), cmp.Compare(x.ep.Node, y.ep.Node))
	})
	for i := 0; i < len(eps); {
		j := i + 1
		for j < len(eps) && eps[i].ep.IP.IsValid() && eps[j].ep.IP == eps[i].ep.IP {
			j++
		}
		win := eps[i].ep
		var losers []string
		for _, o := range eps[i+1 : j] {
			if o.ep.MAC != win.MAC || o.ep.Node != win.Node {
				losers = append(losers, o.ep.Node)
			}
		}
		if len(losers) > 0 {
			st.Duplicates = append(st.Duplicates, Duplicate{Network: in.Def.Name, IP: win.IP.String(), Winner: win.Node, Losers: losers})
		}
		if win.Node == in.Self {
			win.Node = ""
		}
		st.Endpoints = append(st.Endpoints, win)
		i = j
	}
	return st
}

// Apply writes the state into a forwarding table transaction for network
// vni.
func (st NetworkState) Apply(tx *routing.Tx, vni uint32) {
	tx.SetMembers(vni, st.Members)
	tx.SetEndpoints(vni, st.Endpoints)
}

// Addrs lists the addresses the network's endpoints hold.
func (st NetworkState) Addrs() []netip.Addr {
	out := make([]netip.Addr, 0, len(st.Endpoints))
	for _, e := range st.Endpoints {
		if e.IP.IsValid() {
			out = append(out, e.IP)
		}
	}
	return out
}

// dropRedundant removes MAC-only endpoints whose owner also publishes the
// same MAC with an address: they say nothing more, and a node learns them
// from link-local chatter before its addresses are known.
func dropRedundant[T any](items []T, ep func(T) routing.Endpoint) []T {
	type key struct {
		mac  packet.MAC
		node string
	}
	withIP := map[key]bool{}
	for _, it := range items {
		if e := ep(it); e.IP.IsValid() {
			withIP[key{e.MAC, e.Node}] = true
		}
	}
	return slices.DeleteFunc(items, func(it T) bool {
		e := ep(it)
		return !e.IP.IsValid() && withIP[key{e.MAC, e.Node}]
	})
}
