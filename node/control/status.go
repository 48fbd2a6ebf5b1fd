package control

import (
	"cmp"
	"net/netip"
	"os"
	"slices"
	"time"

	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/internal/version"
	"meshnet.dev/meshnet/keydist"
	"meshnet.dev/meshnet/node/api"
	"meshnet.dev/meshnet/node/config"
	"meshnet.dev/meshnet/node/tables"
	"meshnet.dev/meshnet/routing"
)

// Status reports the node, its networks and peers, their counters, and what
// the cluster disagrees about.
func Status(s State) api.Status {
	info := api.NodeInfo{Name: s.Name, Version: version.Version, PID: os.Getpid(), Mode: s.Mode}
	if !s.Ready {
		return api.Status{Node: info}
	}
	info.Underlay, info.GossipPort = s.Underlay.String(), s.GossipPort
	info.UptimeSeconds = int64(time.Since(s.Started).Seconds())
	info.Reachability = Reachability(s.NAT, time.Now())
	st := api.Status{Node: info, Drops: s.Drops}
	for _, a := range s.Networks {
		if net := s.Table.Network(a.Def.VNI); net != nil {
			st.Networks = append(st.Networks, networkStatus(s.Name, a, net))
		}
	}
	st.Peers = Peers(s)
	for _, p := range st.Peers {
		if p.State == "alive" || p.State == "suspect" {
			st.Node.Members++
		}
	}
	st.Node.Members++ // this node
	st.Conflicts, st.Waiting, st.WaitingKeys = s.Report.Conflicts, s.Report.Waiting, s.Report.Keyless
	st.StaticPeers = s.Report.Static
	st.Keys = s.Keys
	st.Gossip = api.GossipStats{BytesSent: s.Gossip.Transport.BytesSent(), BytesReceived: s.Gossip.Transport.BytesReceived(),
		Dropped: s.Gossip.Dropped, Entries: s.Gossip.Entries}
	for _, d := range s.Report.Duplicates {
		st.Duplicates = append(st.Duplicates, api.Duplicate{Network: d.Network, IP: d.IP, Winner: d.Winner, Losers: d.Losers})
	}
	return st
}

// NetworkDef is a network's definition as the API shows it.
func NetworkDef(d tables.NetDef) api.NetworkDef {
	return api.NetworkDef{Name: d.Name, VNI: d.VNI, Subnet: d.Subnet.String(), Encrypted: d.Encrypted, Origin: d.Origin}
}

func networkStatus(self string, a Network, net *routing.Network) api.Network {
	s := a.Stats
	if s == nil {
		s = &routing.PortStats{}
	}
	out := api.Network{
		NetworkDef: NetworkDef(a.Def), Device: a.Device, MTU: a.MTU, Members: []string{self},
		Counters: api.Counters{
			TxPackets: s.TxPackets.Load(), TxBytes: s.TxBytes.Load(),
			RxPackets: s.RxPackets.Load(), RxBytes: s.RxBytes.Load(),
			ARPReplies: s.ARPReplies.Load(), NDReplies: s.NDReplies.Load(),
			Replicated: s.Replicated.Load(), Drops: s.Drops.Map(),
		},
	}
	if a.Addr.IsValid() {
		out.Address = netip.PrefixFrom(a.Addr, a.Def.Subnet.Bits()).String()
	}
	for _, m := range net.Members {
		out.Members = append(out.Members, m.Name)
	}
	slices.Sort(out.Members)
	for _, e := range net.Endpoints() {
		ep := api.Endpoint{MAC: config.FormatMAC(e.MAC), Node: cmp.Or(e.Node, self)}
		if e.IP.IsValid() {
			ep.IP = e.IP.String()
		}
		out.Endpoints = append(out.Endpoints, ep)
	}
	return out
}

// Peers lists every cluster member the node knows of (failed and left
// ones included, until they are forgotten) and the static peers, with
// traffic counters from the forwarding table.
func Peers(s State) []api.Peer {
	var out []api.Peer
	add := func(p api.Peer) {
		if rp := s.Table.Peer(p.Name); rp != nil {
			p.TxPackets, p.TxBytes = rp.Stats.TxPackets.Load(), rp.Stats.TxBytes.Load()
			p.RxPackets, p.RxBytes = rp.Stats.RxPackets.Load(), rp.Stats.RxBytes.Load()
		}
		out = append(out, p)
	}
	for _, m := range s.Members {
		p := api.Peer{Name: m.Name, State: m.State.String(), Networks: m.Networks, Path: path(s.NAT.BehindNAT, m.BehindNAT)}
		if m.MetaErr == nil {
			p.Underlay = m.Meta.VXLAN.String()
			if !m.Meta.Key.IsZero() {
				p.PublicKey, p.Epoch, p.PSKKind = m.Meta.Key.String(), m.Meta.Epoch, "epoch"
				p.VTEP = keydist.VTEP(m.Meta.Key).String()
				if w, ok := s.wireGuard(m.Meta.Key.Raw32()); ok {
					p.LastHandshake, p.WGRxBytes, p.WGTxBytes = w.LastHandshake, w.RxBytes, w.TxBytes
				}
			}
		}
		if m.RTT > 0 && m.State != gossip.StateFailed {
			p.RTTMillis = float64(m.RTT.Microseconds()) / 1000
		}
		add(p)
	}
	for _, sp := range s.Static {
		add(staticPeer(s, sp))
	}
	slices.SortFunc(out, func(a, b api.Peer) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// path says how this node reaches a member: whose NAT stands between.
func path(self, peer bool) string {
	switch {
	case self && peer:
		return "direct, through both NATs"
	case self:
		return "direct, through this node's NAT"
	case peer:
		return "direct, through its NAT"
	}
	return "direct"
}

// staticPeer is a static peer as the API shows it: a plain one by its
// VXLAN address, an encrypted one by its WireGuard endpoint ("" when the
// peer is behind NAT and has not been heard from), key, VTEP and the kind
// of its preshared key, never the key itself.
func staticPeer(s State, sp tables.StaticPeer) api.Peer {
	var nets []string
	for _, e := range sp.Endpoints {
		nets = append(nets, e.Network)
	}
	slices.Sort(nets)
	p := api.Peer{Name: sp.Name, State: "static", Networks: slices.Compact(nets), Sponsors: sp.Sponsors}
	if !sp.Encrypted() {
		p.Underlay = sp.Underlay.String()
		return p
	}
	p.PublicKey, p.VTEP, p.PSKKind = sp.Key.String(), sp.VTEP.String(), "none"
	if !sp.PSK.IsZero() {
		p.PSKKind = "fixed"
	}
	if sp.WG.IsValid() {
		p.Underlay = sp.WG.String()
	}
	if w, ok := s.wireGuard(sp.Key.Raw32()); ok {
		p.LastHandshake, p.WGRxBytes, p.WGTxBytes = w.LastHandshake, w.RxBytes, w.TxBytes
		if !sp.WG.IsValid() && w.Endpoint.IsValid() {
			p.Underlay = w.Endpoint.String()
		}
	}
	return p
}
