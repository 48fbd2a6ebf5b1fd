package node

import (
	"cmp"
	"os"
	"slices"
	"time"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/internal/version"
	"meshnet.dev/meshnet/node/api"
	"meshnet.dev/meshnet/routing"

	"meshnet.dev/meshnet/node/config"

	"meshnet.dev/meshnet/node/tables"
)

// Status reports the node, its networks and peers, their counters, and what
// the cluster disagrees about.
func (n *Node) Status() api.Status {
	if !n.isReady() {
		return api.Status{Node: api.NodeInfo{Name: n.spec.Name, Version: version.Version, PID: os.Getpid(), Mode: n.modeName()}}
	}
	snap := n.table.Snapshot()
	st := api.Status{
		Node: api.NodeInfo{
			Name: n.spec.Name, Version: version.Version, PID: os.Getpid(), Mode: n.modeName(),
			Underlay: n.underlay.String(), GossipPort: n.spec.Gossip.Port,
			UptimeSeconds: int64(time.Since(n.started).Seconds()),
		},
		Drops: n.fwd.Drops().Map(),
	}
	v := n.current()
	rep := v.report
	for _, a := range v.nets {
		if net := snap.Network(a.def.VNI); net != nil {
			st.Networks = append(st.Networks, n.networkStatus(a, net))
		}
	}
	st.Peers = n.peers(snap)
	for _, p := range st.Peers {
		if p.State == "alive" || p.State == "suspect" {
			st.Node.Members++
		}
	}
	st.Node.Members++ // this node
	st.Conflicts, st.Waiting, st.WaitingKeys = rep.conflicts, rep.waiting, rep.keyless
	ks := n.keys.Status()
	st.Keys = api.Keys{Cluster: ks.Cluster.String(), PublicKey: ks.PublicKey.String(), Admin: ks.Admin,
		Epoch: ks.Epoch, Evicted: ks.Evicted, Rejected: ks.Rejected}
	gs := n.db.Stats()
	st.Gossip = api.GossipStats{BytesSent: gs.Transport.BytesSent(), BytesReceived: gs.Transport.BytesReceived(),
		Dropped: gs.Dropped, Entries: gs.Entries}
	for _, d := range rep.duplicates {
		st.Duplicates = append(st.Duplicates, api.Duplicate{Network: d.Network, IP: d.IP, Winner: d.Winner, Losers: d.Losers})
	}
	return st
}

func (n *Node) networkStatus(a netView, net *routing.Network) api.Network {
	s := a.stats
	if s == nil {
		s = &routing.PortStats{}
	}
	out := api.Network{
		Name: net.Name, VNI: net.VNI, Subnet: a.def.Subnet.String(), Device: a.device, MTU: a.mtu,
		Encrypted: net.Encrypted, Origin: a.def.Origin, Members: []string{n.spec.Name},
		Counters: api.Counters{
			TxPackets: s.TxPackets.Load(), TxBytes: s.TxBytes.Load(),
			RxPackets: s.RxPackets.Load(), RxBytes: s.RxBytes.Load(),
			ARPReplies: s.ARPReplies.Load(), NDReplies: s.NDReplies.Load(),
			Replicated: s.Replicated.Load(), Drops: s.Drops.Map(),
		},
	}
	if a.addr.IsValid() {
		out.Address = netipPrefix(a.addr, a.def.Subnet.Bits())
	}
	for _, m := range net.Members {
		out.Members = append(out.Members, m.Name)
	}
	slices.Sort(out.Members)
	for _, e := range net.Endpoints() {
		ep := api.Endpoint{MAC: config.FormatMAC(e.MAC), Node: cmp.Or(e.Node, n.spec.Name)}
		if e.IP.IsValid() {
			ep.IP = e.IP.String()
		}
		out.Endpoints = append(out.Endpoints, ep)
	}
	return out
}

// peers lists every cluster member the node knows of (failed and left ones
// included, until they are forgotten) and the static peers, with traffic
// counters from the forwarding table.
func (n *Node) peers(snap *routing.Snapshot) []api.Peer {
	var out []api.Peer
	wg := map[[32]byte]encap.WGPeerStats{}
	if n.secure != nil {
		if stats, err := n.secure.PeerStats(); err == nil {
			for _, s := range stats {
				wg[s.PublicKey] = s
			}
		}
	}
	add := func(p api.Peer) {
		if rp := snap.Peer(p.Name); rp != nil {
			p.TxPackets, p.TxBytes = rp.Stats.TxPackets.Load(), rp.Stats.TxBytes.Load()
			p.RxPackets, p.RxBytes = rp.Stats.RxPackets.Load(), rp.Stats.RxBytes.Load()
		}
		out = append(out, p)
	}
	for _, m := range n.db.Members() {
		if m.Name == n.spec.Name {
			continue
		}
		p := api.Peer{Name: m.Name, State: m.State.String(), Networks: m.Networks}
		if meta, err := tables.DecodeMeta(m.Meta); err == nil {
			p.Underlay = meta.VXLAN.String()
			if !meta.Key.IsZero() {
				p.PublicKey, p.Epoch = meta.Key.String(), meta.Epoch
				if w, ok := wg[meta.Key.Raw32()]; ok {
					p.LastHandshake, p.WGRxBytes, p.WGTxBytes = w.LastHandshake, w.RxBytes, w.TxBytes
				}
			}
		}
		if rtt, ok := n.db.RTT(m.Name); ok && m.State != gossip.StateFailed {
			p.RTTMillis = float64(rtt.Microseconds()) / 1000
		}
		add(p)
	}
	for _, sp := range n.spec.Peers {
		var nets []string
		for _, e := range sp.Endpoints {
			nets = append(nets, e.Network)
		}
		slices.Sort(nets)
		add(api.Peer{Name: sp.Name, Underlay: sp.Underlay.String(), State: "static", Networks: slices.Compact(nets)})
	}
	slices.SortFunc(out, func(a, b api.Peer) int { return cmp.Compare(a.Name, b.Name) })
	return out
}
