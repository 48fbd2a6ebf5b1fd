package node

import (
	"os"
	"slices"
	"time"

	"meshnet.dev/meshnet/internal/version"
	"meshnet.dev/meshnet/node/api"
	"meshnet.dev/meshnet/routing"
)

// Status reports the node, its networks and peers, and their counters.
func (n *Node) Status() api.Status {
	snap := n.table.Snapshot()
	st := api.Status{
		Node: api.NodeInfo{
			Name: n.spec.name, Version: version.Version, PID: os.Getpid(), Mode: n.modeName(),
			UptimeSeconds: int64(time.Since(n.started).Seconds()),
		},
		Drops: map[string]uint64{},
	}
	if n.spec.underlay.IsValid() {
		st.Node.Underlay = n.spec.underlay.String()
	}
	if n.plain != nil {
		st.Node.VXLANPort = int(n.plain.LocalPort())
	}
	if n.fwd != nil {
		st.Drops = n.fwd.Drops().Map()
	}
	peerNets := map[string][]string{}
	n.mu.Lock()
	atts := make([]*attachment, 0, len(n.nets))
	for _, a := range n.nets {
		atts = append(atts, a)
	}
	n.mu.Unlock()
	slices.SortFunc(atts, func(a, b *attachment) int { return int(a.spec.vni) - int(b.spec.vni) })
	for _, a := range atts {
		net := snap.Network(a.spec.vni)
		if net == nil {
			continue
		}
		st.Networks = append(st.Networks, networkStatus(n.spec.name, a, net))
		for _, m := range net.Members {
			peerNets[m.Name] = append(peerNets[m.Name], net.Name)
		}
	}
	for _, p := range snap.Peers() {
		st.Peers = append(st.Peers, api.Peer{
			Name: p.Name, Underlay: p.Underlay.String(), Networks: peerNets[p.Name],
			TxPackets: p.Stats.TxPackets.Load(), TxBytes: p.Stats.TxBytes.Load(),
			RxPackets: p.Stats.RxPackets.Load(), RxBytes: p.Stats.RxBytes.Load(),
		})
	}
	return st
}

func networkStatus(self string, a *attachment, net *routing.Network) api.Network {
	s := &a.port.Stats
	out := api.Network{
		Name: net.Name, VNI: net.VNI, Subnet: a.spec.subnet.String(), Address: a.spec.addr.String(),
		Device: a.spec.device, MTU: a.mtu, Encrypted: net.Encrypted,
		Members: []string{self},
		Counters: api.Counters{
			TxPackets: s.TxPackets.Load(), TxBytes: s.TxBytes.Load(),
			RxPackets: s.RxPackets.Load(), RxBytes: s.RxBytes.Load(),
			ARPReplies: s.ARPReplies.Load(), NDReplies: s.NDReplies.Load(),
			Replicated: s.Replicated.Load(), Drops: s.Drops.Map(),
		},
	}
	for _, m := range net.Members {
		out.Members = append(out.Members, m.Name)
	}
	slices.Sort(out.Members)
	for _, e := range net.Endpoints() {
		ep := api.Endpoint{MAC: FormatMAC(e.MAC), Node: e.Node}
		if ep.Node == "" {
			ep.Node = self
		}
		if e.IP.IsValid() {
			ep.IP = e.IP.String()
		}
		out.Endpoints = append(out.Endpoints, ep)
	}
	return out
}
