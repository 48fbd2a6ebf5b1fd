package node

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/node/api"
	"meshnet.dev/meshnet/node/control"

	"meshnet.dev/meshnet/node/config"
)

// Networks lists every network the cluster defines.
func (n *Node) Networks() []api.ClusterNetwork {
	won, _ := n.clusterDefs()
	members := map[string][]string{}
	for _, m := range n.db.Members() {
		if m.Name == n.spec.Name || m.State.String() == "alive" || m.State.String() == "suspect" {
			for _, nw := range m.Networks {
				members[nw] = append(members[nw], m.Name)
			}
		}
	}
	snap := n.table.Snapshot()
	out := make([]api.ClusterNetwork, 0, len(won))
	for _, d := range won {
		cn := api.ClusterNetwork{NetworkDef: control.NetworkDef(d), Members: members[d.Name]}
		if a, ok := n.current().network(d.Name); ok {
			cn.Attached = true
			if net := snap.Network(a.def.VNI); net != nil {
				cn.Endpoints = len(net.Endpoints())
			}
		}
		slices.Sort(cn.Members)
		out = append(out, cn)
	}
	slices.SortFunc(out, func(a, b api.ClusterNetwork) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// CreateNetwork defines a network cluster-wide. It waits a few gossip rounds
// and reports a conflict if another node defined the same name or VNI first.
func (n *Node) CreateNetwork(req api.CreateNetwork) (api.ClusterNetwork, error) {
	if !config.ValidName(req.Name) {
		return api.ClusterNetwork{}, fmt.Errorf("network name %q: use lower-case letters, digits and '-'", req.Name)
	}
	sub, err := netip.ParsePrefix(req.Subnet)
	if err != nil || sub != sub.Masked() || sub.Bits() > sub.Addr().BitLen()-2 {
		return api.ClusterNetwork{}, fmt.Errorf("subnet %q: not a network prefix; write it like 10.20.0.0/24", req.Subnet)
	}
	if req.VNI != 0 && !encap.ValidVNI(req.VNI) {
		return api.ClusterNetwork{}, fmt.Errorf("vni %d: use 1-%d", req.VNI, encap.MaxVNI)
	}
	won, _ := n.clusterDefs()
	if d, ok := won[req.Name]; ok {
		return api.ClusterNetwork{}, fmt.Errorf("%w: network %q already exists (vni %d, %s, created by %s)", control.ErrConflict, d.Name, d.VNI, d.Subnet, d.Origin)
	}
	d, err := n.createNetwork(req.Name, sub, req.VNI, req.Encrypted, won)
	if err != nil {
		return api.ClusterNetwork{}, fmt.Errorf("%w: %v", control.ErrConflict, err)
	}
	// A definition made at the same moment elsewhere shows up within a few
	// gossip rounds; tell the caller now if ours lost.
	time.Sleep(settleRounds * n.spec.Gossip.Interval)
	won, _ = n.clusterDefs()
	w, ok := won[req.Name]
	if !ok || !w.SameNetwork(d) || w.Origin != n.spec.Name {
		if ok {
			return api.ClusterNetwork{}, fmt.Errorf("%w: network %q was defined at the same time by %s (vni %d, %s), whose definition wins", control.ErrConflict, req.Name, w.Origin, w.VNI, w.Subnet)
		}
		return api.ClusterNetwork{}, fmt.Errorf("%w: network %q lost a VNI conflict with another network; pick another --vni", control.ErrConflict, req.Name)
	}
	return api.ClusterNetwork{NetworkDef: control.NetworkDef(w)}, nil
}

// JoinNetwork attaches this node to a network, now or as soon as it is
// defined.
func (n *Node) JoinNetwork(name string, req api.JoinNetwork) error {
	if !config.ValidName(name) {
		return fmt.Errorf("network name %q: use lower-case letters, digits and '-'", name)
	}
	ns := config.NetworkSpec{Name: name, Device: config.DefaultDevice(name)}
	if req.Address != "" {
		a, err := netip.ParseAddr(req.Address)
		if err != nil {
			return fmt.Errorf("address %q: not an IP address", req.Address)
		}
		ns.Address = a
	}
	if err := n.want.join(ns); err != nil {
		return err
	}
	n.poke() // the reconciler attaches it and records it in the state file
	return nil
}

// LeaveNetwork detaches this node from a network.
func (n *Node) LeaveNetwork(name string) error {
	if err := n.want.leave(name); err != nil {
		return err
	}
	n.poke()
	return nil
}
