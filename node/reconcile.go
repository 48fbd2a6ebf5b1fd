package node

import (
	"context"
	"maps"
	"slices"
	"time"

	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/node/control"
	"meshnet.dev/meshnet/node/tables"
	"meshnet.dev/meshnet/routing"
)

// The reconciler is the only goroutine that changes what the node is
// attached to and what the forwarding table holds. It is level-triggered:
// each pass recomputes the wanted state from gossip and applies the
// difference, so a missed or reordered event can never leave the table
// wrong. Gossip events poke it; a ticker drives timers (IPAM settling).

// conntrackSweep is how often expired load-balancer flows are cleared.
const conntrackSweep = 5 * time.Second

func (n *Node) reconcileLoop(ctx context.Context) {
	defer n.loops.Done()
	tick := time.NewTicker(n.spec.Gossip.Interval)
	defer tick.Stop()
	sweep := time.NewTicker(conntrackSweep)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.dirty:
		case <-tick.C:
		case <-sweep.C:
			n.balancer.Sweep()
			continue
		}
		n.reconcile()
	}
}

// reconcile is one pass. It publishes a view after each step that changes
// what other goroutines read, and records the state file at the end.
func (n *Node) reconcile() {
	n.keys.Sync()
	want := n.want.all()
	won, lost := n.catalog.Defs()
	var rep control.Report
	rep.Conflicts = n.handleConflicts(lost)
	n.defineWanted(want, won)
	rep.Waiting, rep.Keyless = n.syncAttachments(want, won)
	n.publish()
	rep.Static = n.syncPeers()
	atts := make([]*attachment, 0, len(n.rec.nets))
	for _, a := range n.rec.nets {
		atts = append(atts, a)
	}
	for _, a := range atts {
		dups, static := n.syncNetwork(a)
		rep.Duplicates = append(rep.Duplicates, dups...)
		rep.Static = append(rep.Static, static...)
	}
	n.publish()
	n.syncServices(won, atts)
	if n.spec.Userspace {
		n.syncUserspace(atts)
	}
	slices.Sort(rep.Static)
	rep.Static = slices.Compact(rep.Static)
	for _, p := range rep.Static {
		if !slices.Contains(n.rec.report.Static, p) {
			n.log.Warn("static peer left out", "problem", p)
		}
	}
	n.rec.report = rep
	n.rememberSeeds()
	n.publish()
	n.persist()
}

// handleConflicts withdraws this node's copies of losing definitions and
// tells people about every conflict.
func (n *Node) handleConflicts(lost []tables.DefConflict) []string {
	for _, c := range lost {
		if c.Loser.Owner != n.spec.Name {
			continue
		}
		if c.Loser.Origin == n.spec.Name {
			n.log.Error("our network definition lost a conflict and is withdrawn", "conflict", c.String())
		}
		if err := n.db.Delete(gossip.ClusterScope, tables.Networks, c.Loser.Name); err != nil {
			n.log.Warn("withdrawing network definition", "network", c.Loser.Name, "err", err)
		}
	}
	return tables.ConflictReport(lost)
}

// defineWanted creates the definitions of networks this node's config
// defines that the cluster does not have yet. A node that joins a cluster
// waits until it has seen the cluster's definitions, which then win.
func (n *Node) defineWanted(want map[string]wantedNet, won map[string]tables.NetDef) {
	at := n.joinedAt.Load()
	if at == nil || time.Since(*at) <= 2*n.spec.Gossip.Interval {
		return
	}
	for _, w := range want {
		if !w.Defines() {
			continue
		}
		if d, ok := won[w.Name]; ok {
			if d.VNI != w.VNI && w.VNI != 0 || d.Subnet != w.Subnet || d.Encrypted != w.Encrypted {
				n.log.Warn("the cluster defines this network differently from our config; using the cluster's",
					"network", w.Name, "cluster_vni", d.VNI, "cluster_subnet", d.Subnet, "config_vni", w.VNI, "config_subnet", w.Subnet)
			}
			continue
		}
		if _, err := n.catalog.Define(w.Name, w.Subnet, w.VNI, w.Encrypted, won); err != nil {
			n.log.Error("defining network from config", "network", w.Name, "err", err)
		}
	}
}

// syncAttachments attaches wanted networks that have a definition, detaches
// unwanted ones, and re-attaches any whose definition changed. It returns the
// wanted networks still waiting for a definition, and the encrypted ones
// waiting for this node's first cluster keys.
func (n *Node) syncAttachments(want map[string]wantedNet, won map[string]tables.NetDef) (waiting, keyless []string) {
	attached := make(map[string]tables.NetDef, len(n.rec.nets))
	for k, v := range n.rec.nets {
		attached[k] = v.def
	}
	plan := tables.PlanAttachments(slices.Collect(maps.Keys(want)), attached, won, n.keys.HoldsKeys())
	for _, name := range plan.Detach {
		a := n.rec.nets[name]
		delete(n.rec.nets, name)
		n.publish() // before the device goes
		n.detach(a)
		n.db.LeaveNetwork(name)
	}
	for _, d := range plan.Attach {
		a, err := n.attach(d, want[d.Name])
		if err != nil {
			n.log.Error("cannot attach network", "network", d.Name, "err", err)
			continue
		}
		n.rec.nets[d.Name] = a
		if err := n.db.JoinNetwork(d.Name); err != nil {
			n.log.Warn("joining network gossip", "network", d.Name, "err", err)
		}
		n.adopt(d)
	}
	return plan.Waiting, plan.Keyless
}

// adopt republishes a network's definition under this node's name, so the
// network outlives its creator while any member is alive.
func (n *Node) adopt(d tables.NetDef) {
	for _, e := range n.db.Lookup(gossip.ClusterScope, tables.Networks, d.Name) {
		if e.Owner == n.spec.Name {
			return
		}
	}
	b, err := d.Encode()
	if err == nil {
		err = n.db.Put(gossip.ClusterScope, tables.Networks, d.Name, b)
	}
	if err != nil {
		n.log.Warn("republishing network definition", "network", d.Name, "err", err)
	}
}

// syncPeers makes the table's peers the live members with valid metadata,
// plus the cluster's static peers, and pairs WireGuard with the members
// and the encrypted static peers on this node's networks. It returns the
// static peers' problems.
func (n *Node) syncPeers() []string {
	members := n.db.Members()
	problems := n.syncStatic(members)
	want := tables.Peers(n.spec.Name, members, n.keys.IsEvicted, staticRoutes(n.rec.static))
	attached := func(name string) bool { _, ok := n.rec.nets[name]; return ok }
	n.rec.paired = n.keys.PairPeers(members, tables.OnNetworks(n.rec.static, attached))
	n.table.Update(func(tx *routing.Tx) { tables.SetPeers(tx, want) })
	return problems
}

// syncNetwork recomputes one network's members and endpoints from gossip and
// static peers, settles this node's address, and reports duplicate
// addresses and static endpoints left out.
func (n *Node) syncNetwork(a *attachment) ([]tables.Duplicate, []string) {
	in := tables.NetworkInput{Self: n.spec.Name, Def: a.def, Members: n.db.NetworkMembers(a.def.Name),
		Endpoints: n.catalog.Rows(a.def.Name, tables.Endpoints), Paired: n.rec.paired}
	var static []string
	in.Static, static = tables.StaticEndpoints(n.rec.static, a.def, n.rec.paired)
	st := tables.Network(in)
	n.table.Update(func(tx *routing.Tx) { st.Apply(tx, a.def.VNI) })
	used := st.Addrs()
	for _, svc := range n.rec.services {
		if svc.VIP.IsValid() {
			used = append(used, svc.VIP)
		}
	}
	n.settleAddress(a, used, st.Duplicates)
	n.republishEndpoints(a)
	return st.Duplicates, static
}
