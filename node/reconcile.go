package node

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/keydist"
	"meshnet.dev/meshnet/routing"
)

// The reconciler is the only goroutine that changes what the node is
// attached to and what the forwarding table holds. It is level-triggered:
// each pass recomputes the wanted state from gossip and applies the
// difference, so a missed or reordered event can never leave the table
// wrong. Gossip events poke it; a ticker drives timers (IPAM settling).

// clusterReport is what the last pass found that people should know about.
type clusterReport struct {
	conflicts  []string // network definitions that lost
	duplicates []duplicate
	waiting    []string // wanted networks nobody has defined yet
	keyless    []string // wanted encrypted networks held back until keys arrive
}

// duplicate is one IP claimed by more than one endpoint.
type duplicate struct {
	network, ip string
	winner      string   // owner whose endpoint is used
	losers      []string // owners whose endpoints are ignored
}

// conntrackSweep is how often expired load-balancer flows are cleared.
const conntrackSweep = 5 * time.Second

func (n *Node) reconcileLoop(ctx context.Context) {
	defer n.wg.Done()
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

func (n *Node) reconcile() {
	n.syncKeys()
	won, lost := n.clusterDefs()
	var rep clusterReport
	rep.conflicts = n.handleConflicts(lost)
	n.defineWanted(won)
	rep.waiting, rep.keyless = n.syncAttachments(won)
	n.syncPeers()
	n.mu.Lock()
	atts := make([]*attachment, 0, len(n.nets))
	for _, a := range n.nets {
		atts = append(atts, a)
	}
	n.mu.Unlock()
	for _, a := range atts {
		rep.duplicates = append(rep.duplicates, n.syncNetwork(a)...)
	}
	n.syncServices(won, atts)
	if n.spec.Userspace {
		n.syncUserspace(atts)
	}
	n.mu.Lock()
	n.report = rep
	n.mu.Unlock()
	n.rememberSeeds()
}

// clusterDefs reads and resolves every network definition.
func (n *Node) clusterDefs() (map[string]netDef, []defConflict) {
	var defs []netDef
	n.db.Walk(gossip.ClusterScope, tableNetworks, func(e gossip.Entry) bool {
		d, err := decodeDef(e)
		if err != nil {
			n.log.Debug("ignoring malformed network definition", "owner", e.Owner, "key", e.Key, "err", err)
			return true
		}
		d.owner = e.Owner
		defs = append(defs, d)
		return true
	})
	return resolveDefs(defs)
}

// handleConflicts withdraws this node's copies of losing definitions and
// tells people about every conflict.
func (n *Node) handleConflicts(lost []defConflict) []string {
	var out []string
	for _, c := range lost {
		msg := fmt.Sprintf("network %q (vni %d, %s) defined by %s conflicts with network %q (vni %d, %s) defined earlier by %s",
			c.Loser.Name, c.Loser.VNI, c.Loser.Subnet, c.Loser.Origin, c.Winner.Name, c.Winner.VNI, c.Winner.Subnet, c.Winner.Origin)
		out = append(out, msg)
		if c.Loser.owner != n.spec.Name {
			continue
		}
		if c.Loser.Origin == n.spec.Name {
			n.log.Error("our network definition lost a conflict and is withdrawn", "conflict", msg)
		}
		if err := n.db.Delete(gossip.ClusterScope, tableNetworks, c.Loser.Name); err != nil {
			n.log.Warn("withdrawing network definition", "network", c.Loser.Name, "err", err)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// defineWanted creates the definitions of networks this node's config
// defines that the cluster does not have yet. A node that joins a cluster
// waits until it has seen the cluster's definitions, which then win.
func (n *Node) defineWanted(won map[string]netDef) {
	n.mu.Lock()
	joined := !n.joinedAt.IsZero() && time.Since(n.joinedAt) > 2*n.spec.Gossip.Interval
	var todo []wantedNet
	for _, w := range n.want {
		if w.Defines() {
			todo = append(todo, w)
		}
	}
	n.mu.Unlock()
	if !joined {
		return
	}
	for _, w := range todo {
		if d, ok := won[w.Name]; ok {
			if d.VNI != w.VNI && w.VNI != 0 || d.Subnet != w.Subnet || d.Encrypted != w.Encrypted {
				n.log.Warn("the cluster defines this network differently from our config; using the cluster's",
					"network", w.Name, "cluster_vni", d.VNI, "cluster_subnet", d.Subnet, "config_vni", w.VNI, "config_subnet", w.Subnet)
			}
			continue
		}
		if _, err := n.createNetwork(w.Name, w.Subnet, w.VNI, w.Encrypted, won); err != nil {
			n.log.Error("defining network from config", "network", w.Name, "err", err)
		}
	}
}

// createNetwork publishes a new network definition owned by this node.
func (n *Node) createNetwork(name string, subnet netip.Prefix, vni uint32, encrypted bool, won map[string]netDef) (netDef, error) {
	used := func(v uint32) bool {
		for _, d := range won {
			if d.VNI == v {
				return true
			}
		}
		return false
	}
	if vni == 0 {
		vni = autoVNI(name, used)
	} else if used(vni) {
		return netDef{}, fmt.Errorf("VNI %d is already used by another network", vni)
	}
	d := netDef{Name: name, VNI: vni, Subnet: subnet, Encrypted: encrypted, Origin: n.spec.Name}
	b, err := json.Marshal(d)
	if err != nil {
		return d, err
	}
	if err := n.db.Put(gossip.ClusterScope, tableNetworks, name, b); err != nil {
		return d, err
	}
	n.log.Info("network defined", "network", name, "vni", vni, "subnet", subnet, "encrypted", encrypted)
	n.poke()
	return d, nil
}

// syncAttachments attaches wanted networks that have a definition, detaches
// unwanted ones, and re-attaches any whose definition changed. It returns the
// wanted networks still waiting for a definition, and the encrypted ones
// waiting for this node's first cluster keys.
func (n *Node) syncAttachments(won map[string]netDef) (waiting, keyless []string) {
	n.mu.Lock()
	want := make(map[string]wantedNet, len(n.want))
	for k, v := range n.want {
		want[k] = v
	}
	have := make(map[string]*attachment, len(n.nets))
	for k, v := range n.nets {
		have[k] = v
	}
	n.mu.Unlock()

	for name, a := range have {
		d, ok := won[name]
		if _, wanted := want[name]; wanted && ok && d.sameNetwork(a.def) {
			continue
		}
		n.mu.Lock()
		delete(n.nets, name)
		n.mu.Unlock()
		n.detach(a)
		n.db.LeaveNetwork(name)
	}
	for name, w := range want {
		d, ok := won[name]
		if !ok {
			waiting = append(waiting, name)
			continue
		}
		n.mu.Lock()
		_, attached := n.nets[name]
		n.mu.Unlock()
		if attached {
			continue
		}
		if d.Encrypted && !n.holdsKeys() {
			// Attaching would publish an endpoint no peer can send to yet:
			// the first packets to it would be dropped. The grant follows
			// within a reconcile pass of the admin node seeing this node.
			keyless = append(keyless, name)
			continue
		}
		a, err := n.attach(d, w)
		if err != nil {
			n.log.Error("cannot attach network", "network", name, "err", err)
			continue
		}
		n.mu.Lock()
		n.nets[name] = a
		n.mu.Unlock()
		if err := n.db.JoinNetwork(name); err != nil {
			n.log.Warn("joining network gossip", "network", name, "err", err)
		}
		n.adopt(d)
	}
	slices.Sort(waiting)
	slices.Sort(keyless)
	return waiting, keyless
}

// adopt republishes a network's definition under this node's name, so the
// network outlives its creator while any member is alive.
func (n *Node) adopt(d netDef) {
	for _, e := range n.db.Lookup(gossip.ClusterScope, tableNetworks, d.Name) {
		if e.Owner == n.spec.Name {
			return
		}
	}
	c := d
	c.owner = ""
	b, err := json.Marshal(c)
	if err == nil {
		err = n.db.Put(gossip.ClusterScope, tableNetworks, d.Name, b)
	}
	if err != nil {
		n.log.Warn("republishing network definition", "network", d.Name, "err", err)
	}
}

// syncPeers makes the table's peers the live members with valid metadata,
// plus static peers.
func (n *Node) syncPeers() {
	want := map[string]routing.PeerConfig{}
	members := n.db.Members()
	for _, m := range members {
		if m.Name == n.spec.Name || (m.State != gossip.StateAlive && m.State != gossip.StateSuspect) {
			continue
		}
		meta, err := decodeMeta(m.Meta)
		if err != nil {
			n.log.Debug("ignoring member with malformed metadata", "member", m.Name, "err", err)
			continue
		}
		if !meta.Key.IsZero() && n.keys.member.IsEvicted(meta.Key) {
			continue
		}
		pc := routing.PeerConfig{Name: m.Name, Underlay: meta.VXLAN}
		if !meta.Key.IsZero() && meta.WG.IsValid() {
			pc.VTEP = netip.AddrPortFrom(keydist.VTEP(meta.Key), encap.Port)
		}
		want[m.Name] = pc
	}
	n.syncSecurePeers(members)
	for _, p := range n.spec.Peers {
		want[p.Name] = routing.PeerConfig{Name: p.Name, Underlay: p.Underlay}
	}
	n.table.Update(func(tx *routing.Tx) {
		for _, name := range tx.PeerNames() {
			if _, ok := want[name]; !ok {
				tx.RemovePeer(name)
			}
		}
		for _, p := range want {
			tx.SetPeer(p)
		}
	})
}

// syncNetwork recomputes one network's members and endpoints from gossip and
// static peers, settles this node's address, and reports duplicate
// addresses.
func (n *Node) syncNetwork(a *attachment) []duplicate {
	name, subnet := a.def.Name, a.def.Subnet
	var members []string
	for _, m := range n.db.NetworkMembers(name) {
		if m != n.spec.Name {
			members = append(members, m)
		}
	}
	type owned struct {
		ep    routing.Endpoint
		ltime uint64
	}
	var eps []owned
	n.mu.Lock()
	paired := n.paired
	n.mu.Unlock()
	n.db.Walk(name, tableEndpoints, func(e gossip.Entry) bool {
		if a.def.Encrypted && paired != nil && e.Owner != n.spec.Name && !paired[e.Owner] {
			// No WireGuard peer for the owner yet (its metadata with
			// the keys it holds has not arrived): an endpoint listed
			// now would take traffic that can only be dropped.
			return true
		}
		ep, err := decodeEndpoint(e, subnet)
		if err != nil {
			n.log.Debug("ignoring malformed endpoint", "network", name, "owner", e.Owner, "key", e.Key)
			return true
		}
		eps = append(eps, owned{ep, e.LTime})
		return true
	})
	eps = dropRedundant(eps, func(o owned) routing.Endpoint { return o.ep })
	for _, p := range n.spec.Peers {
		for _, e := range p.Endpoints {
			if e.Network == name {
				members = append(members, p.Name)
				eps = append(eps, owned{routing.Endpoint{MAC: e.MAC, IP: e.IP, Node: p.Name}, 0})
			}
		}
	}
	// One IP, one endpoint: the earliest claim wins everywhere; the rest
	// are reported and left out of the table.
	slices.SortFunc(eps, func(x, y owned) int {
		if c := x.ep.IP.Compare(y.ep.IP); c != 0 {
			return c
		}
		if c := cmp.Compare(x.ltime, y.ltime); c != 0 {
			return c
		}
		return cmp.Compare(x.ep.Node, y.ep.Node)
	})
	var table []routing.Endpoint
	var dups []duplicate
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
			dups = append(dups, duplicate{network: name, ip: win.IP.String(), winner: win.Node, losers: losers})
		}
		if win.Node == n.spec.Name {
			win.Node = ""
		}
		table = append(table, win)
		i = j
	}
	n.table.Update(func(tx *routing.Tx) {
		tx.SetMembers(a.def.VNI, members)
		tx.SetEndpoints(a.def.VNI, table)
	})
	used := eps2ips(table)
	n.mu.Lock()
	for _, svc := range n.services {
		if svc.VIP.IsValid() {
			used = append(used, svc.VIP)
		}
	}
	n.mu.Unlock()
	n.settleAddress(a, used, dups)
	return dups
}

// dropRedundant removes MAC-only endpoints whose owner also publishes the
// same MAC with an address: they say nothing more, and a node learns them
// from link-local chatter before its addresses are known.
func dropRedundant[T any](items []T, ep func(T) routing.Endpoint) []T {
	type key struct {
		mac  routing.MAC
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

func eps2ips(eps []routing.Endpoint) []netip.Addr {
	out := make([]netip.Addr, 0, len(eps))
	for _, e := range eps {
		if e.IP.IsValid() {
			out = append(out, e.IP)
		}
	}
	return out
}
