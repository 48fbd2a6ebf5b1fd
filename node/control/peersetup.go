package control

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/keydist"
	"meshnet.dev/meshnet/node/api"
	"meshnet.dev/meshnet/node/config"
	"meshnet.dev/meshnet/node/tables"
)

// ErrNotFound marks a request for something the node does not know; the
// API answers 404.
var ErrNotFound = errors.New("not found")

// PeerSetup is what the host of encrypted static peer name needs to join
// its networks: the members it pairs with (this node first, then every
// live member on one of its networks that the forwarding table reaches
// through WireGuard) and its networks as this node has them. The peer's
// networks must be attached here, for their MTU.
func PeerSetup(s State, name string) (api.PeerSetup, error) {
	if !s.Ready {
		return api.PeerSetup{}, errors.New("the node is still starting; try again in a moment")
	}
	i := slices.IndexFunc(s.Static, func(p tables.StaticPeer) bool { return p.Name == name })
	if i < 0 {
		return api.PeerSetup{}, fmt.Errorf("%w: no static peer %q in the cluster; add it under peers in a node's config and reload that node (meshnet peers lists static peers)",
			ErrNotFound, name)
	}
	sp := s.Static[i]
	if !sp.Encrypted() {
		return api.PeerSetup{}, fmt.Errorf("static peer %q is a plain VXLAN peer; meshnet peer config is for encrypted peers (public_key in the config)", name)
	}
	self, err := keydist.ParseNodePublic(s.Keys.PublicKey)
	if err != nil || s.WGPort == 0 {
		return api.PeerSetup{}, errors.New("this node has no WireGuard transport; run meshnet peer config on a node that does")
	}
	out := api.PeerSetup{Name: sp.Name, PublicKey: sp.Key.String(), VTEP: sp.VTEP.String(), ListenPort: encap.DefaultWireGuardPort,
		PresharedKey: !sp.PSK.IsZero()}
	if sp.WG.IsValid() {
		out.ListenPort = sp.WG.Port()
	}
	var nets []string
	for _, e := range sp.Endpoints {
		j := slices.IndexFunc(out.Networks, func(n api.PeerSetupNetwork) bool { return n.Name == e.Network })
		if j < 0 {
			k := slices.IndexFunc(s.Networks, func(n Network) bool { return n.Def.Name == e.Network })
			if k < 0 {
				return api.PeerSetup{}, fmt.Errorf("this node is not on network %s, where static peer %q has an endpoint; run meshnet peer config on a node that is",
					e.Network, name)
			}
			a := s.Networks[k]
			out.Networks = append(out.Networks, api.PeerSetupNetwork{Name: a.Def.Name, VNI: a.Def.VNI, Subnet: a.Def.Subnet.String(), MTU: a.MTU})
			nets = append(nets, e.Network)
			j = len(out.Networks) - 1
		}
		out.Networks[j].Endpoints = append(out.Networks[j].Endpoints, api.Endpoint{IP: e.IP.String(), MAC: config.FormatMAC(e.MAC), Node: sp.Name})
	}
	out.Members = append(out.Members, api.PeerSetupMember{Name: s.Name, PublicKey: self.String(),
		Endpoint: netip.AddrPortFrom(s.Underlay.Addr(), s.WGPort).String(), VTEP: keydist.VTEP(self).String()})
	for _, m := range s.Members {
		if m.MetaErr != nil || m.Meta.Key.IsZero() || !m.Meta.WG.IsValid() || !slices.ContainsFunc(m.Networks, func(n string) bool { return slices.Contains(nets, n) }) {
			continue
		}
		if p := s.Table.Peer(m.Name); p == nil || p.VTEP.Addr() != keydist.VTEP(m.Meta.Key) {
			continue // failed, left or evicted: the forwarding table has no such peer
		}
		out.Members = append(out.Members, api.PeerSetupMember{Name: m.Name, PublicKey: m.Meta.Key.String(),
			Endpoint: m.Meta.WG.String(), VTEP: keydist.VTEP(m.Meta.Key).String()})
	}
	slices.SortFunc(out.Members[1:], func(a, b api.PeerSetupMember) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
