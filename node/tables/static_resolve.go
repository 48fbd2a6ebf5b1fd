package tables

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"

	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/keydist"
	"meshnet.dev/meshnet/routing"
)

// ResolveStatic turns the static_peers table into one definition per
// peer, sorted by name. Sponsors publishing the same definition are one
// peer; when they disagree the earliest entry (Lamport time, then owner)
// wins on every node and the others are reported. A peer is left out, and
// reported, when it would stand for a cluster member: its name is a
// member's (in any state), or its key or VTEP is a member's or an earlier
// static peer's; a plain peer's underlay address likewise. A peer whose key
// is evicted is left out and reported too.
func ResolveStatic(rows []gossip.Entry, members []gossip.Member, evicted func(keydist.NodePublic) bool) ([]StaticPeer, []string) {
	var problems []string
	byName := map[string][]gossip.Entry{}
	for _, e := range rows {
		byName[e.Key] = append(byName[e.Key], e)
	}
	memberNames := map[string]bool{}
	keys := map[keydist.NodePublic]string{}
	vteps := map[netip.Addr]string{}
	underlays := map[netip.AddrPort]string{}
	for _, m := range members {
		memberNames[m.Name] = true
		if meta, err := DecodeMeta(m.Meta); err == nil && !meta.Key.IsZero() {
			keys[meta.Key], vteps[keydist.VTEP(meta.Key)] = "member "+m.Name, "member "+m.Name
		}
	}
	var out []StaticPeer
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		p, ok, lost := resolveOne(byName[name])
		problems = append(problems, lost...)
		if !ok {
			continue
		}
		var clash string
		switch {
		case memberNames[name]:
			clash = "a cluster member has this name"
		case p.Encrypted() && keys[p.Key] != "":
			clash = "its public key is " + keys[p.Key] + "'s"
		case p.Encrypted() && vteps[p.VTEP] != "":
			clash = "its VTEP " + p.VTEP.String() + " is " + vteps[p.VTEP] + "'s"
		case !p.Encrypted() && underlays[p.Underlay] != "":
			clash = "its address " + p.Underlay.String() + " is " + underlays[p.Underlay] + "'s"
		}
		if clash != "" {
			problems = append(problems, fmt.Sprintf("static peer %q (from %v) is ignored: %s", name, p.Sponsors, clash))
			continue
		}
		if p.Encrypted() && evicted(p.Key) {
			problems = append(problems, fmt.Sprintf("static peer %q (from %v) is ignored: its key was evicted; remove the entry", name, p.Sponsors))
			continue
		}
		if p.Encrypted() {
			keys[p.Key], vteps[p.VTEP] = "static peer "+name, "static peer "+name
		} else {
			underlays[p.Underlay] = "static peer " + name
		}
		out = append(out, p)
	}
	return out, problems
}

// resolveOne picks the definition of one peer from its sponsors' entries.
func resolveOne(entries []gossip.Entry) (StaticPeer, bool, []string) {
	type decoded struct {
		e gossip.Entry
		p StaticPeer
	}
	var ds []decoded
	var problems []string
	for _, e := range entries {
		p, err := DecodeStatic(e)
		if err != nil {
			problems = append(problems, fmt.Sprintf("static peer %q from %s is malformed and ignored", e.Key, e.Owner))
			continue
		}
		ds = append(ds, decoded{e, p})
	}
	if len(ds) == 0 {
		return StaticPeer{}, false, problems
	}
	slices.SortFunc(ds, func(a, b decoded) int {
		return cmp.Or(cmp.Compare(a.e.LTime, b.e.LTime), cmp.Compare(a.e.Owner, b.e.Owner))
	})
	win := ds[0]
	for _, d := range ds {
		if bytes.Equal(d.e.Value, win.e.Value) {
			win.p.Sponsors = append(win.p.Sponsors, d.e.Owner)
			continue
		}
		problems = append(problems, fmt.Sprintf("static peer %q: %s's definition differs from %s's, which is used; make the entries the same or remove one",
			win.p.Name, d.e.Owner, win.e.Owner))
	}
	slices.Sort(win.p.Sponsors)
	return win.p, true, problems
}

// OnNetworks lists the static peers with an endpoint on one of the
// networks: the ones a node on those networks pairs with. A member that
// shares no network with a peer has nothing to exchange with it.
func OnNetworks(peers []StaticPeer, networks func(string) bool) []StaticPeer {
	var out []StaticPeer
	for _, p := range peers {
		if slices.ContainsFunc(p.Endpoints, func(e StaticEndpoint) bool { return networks(e.Network) }) {
			out = append(out, p)
		}
	}
	return out
}

// StaticEndpoints lists the endpoints of static peers on network def for
// the forwarding table, each with its peer as node. An endpoint whose peer
// speaks the wrong transport for the network or whose address is outside
// the subnet is left out and reported. On an encrypted network, endpoints
// of encrypted peers WireGuard is not paired with (paired; nil: no
// encrypted transport) are left out until it is.
func StaticEndpoints(peers []StaticPeer, def NetDef, paired map[string]bool) ([]routing.Endpoint, []string) {
	var out []routing.Endpoint
	var problems []string
	for _, p := range peers {
		for _, e := range p.Endpoints {
			if e.Network != def.Name {
				continue
			}
			switch {
			case p.Encrypted() != def.Encrypted:
				problems = append(problems, fmt.Sprintf("static peer %q: network %s is %s but the peer is %s; its endpoints there are ignored",
					p.Name, def.Name, kind(def.Encrypted), kind(p.Encrypted())))
			case !def.Subnet.Contains(e.IP):
				problems = append(problems, fmt.Sprintf("static peer %q: endpoint %s is outside network %s's subnet %s and ignored",
					p.Name, e.IP, def.Name, def.Subnet))
			case p.Encrypted() && !paired[p.Name]:
			default:
				out = append(out, routing.Endpoint{MAC: e.MAC, IP: e.IP, Node: p.Name})
			}
		}
	}
	return out, problems
}

func kind(encrypted bool) string {
	if encrypted {
		return "encrypted"
	}
	return "plain"
}
