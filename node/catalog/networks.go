package catalog

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/node/api"
	"meshnet.dev/meshnet/node/config"
	"meshnet.dev/meshnet/node/control"
	"meshnet.dev/meshnet/node/tables"
)

// ListNetworks lists every network the cluster defines, with its live
// members and, where this node is attached, its endpoints.
func (c *Catalog) ListNetworks() []api.ClusterNetwork {
	won, _ := c.Defs()
	members := map[string][]string{}
	for _, m := range c.cfg.Gossip.Members() {
		if m.Name == c.cfg.Self || tables.Live(m) {
			for _, nw := range m.Networks {
				members[nw] = append(members[nw], m.Name)
			}
		}
	}
	snap := c.cfg.Local.Snapshot()
	out := make([]api.ClusterNetwork, 0, len(won))
	for _, d := range won {
		cn := api.ClusterNetwork{NetworkDef: control.NetworkDef(d), Members: members[d.Name]}
		if a, ok := c.cfg.Local.Attached(d.Name); ok {
			cn.Attached = true
			if net := snap.Network(a.VNI); net != nil {
				cn.Endpoints = len(net.Endpoints())
			}
		}
		slices.Sort(cn.Members)
		out = append(out, cn)
	}
	slices.SortFunc(out, func(a, b api.ClusterNetwork) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// CreateNetwork defines a network cluster-wide. It waits for the settle
// time and reports a conflict if another node defined the same name or
// VNI first.
func (c *Catalog) CreateNetwork(req api.CreateNetwork) (api.ClusterNetwork, error) {
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
	won, _ := c.Defs()
	if d, ok := won[req.Name]; ok {
		return api.ClusterNetwork{}, fmt.Errorf("%w: network %q already exists (vni %d, %s, created by %s)", control.ErrConflict, d.Name, d.VNI, d.Subnet, d.Origin)
	}
	d, err := c.Define(req.Name, sub, req.VNI, req.Encrypted, won)
	if err != nil {
		return api.ClusterNetwork{}, fmt.Errorf("%w: %v", control.ErrConflict, err)
	}
	// A definition made at the same moment elsewhere shows up within a few
	// gossip rounds; tell the caller now if ours lost.
	time.Sleep(c.cfg.Settle)
	won, _ = c.Defs()
	w, ok := won[req.Name]
	if !ok || !w.SameNetwork(d) || w.Origin != c.cfg.Self {
		if ok {
			return api.ClusterNetwork{}, fmt.Errorf("%w: network %q was defined at the same time by %s (vni %d, %s), whose definition wins", control.ErrConflict, req.Name, w.Origin, w.VNI, w.Subnet)
		}
		return api.ClusterNetwork{}, fmt.Errorf("%w: network %q lost a VNI conflict with another network; pick another --vni", control.ErrConflict, req.Name)
	}
	return api.ClusterNetwork{NetworkDef: control.NetworkDef(w)}, nil
}
