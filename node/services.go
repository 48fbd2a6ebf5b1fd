package node

import (
	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/lb"
	"meshnet.dev/meshnet/node/tables"
)

// syncServices adopts the definitions of services on this node's networks,
// withdraws this node's copies of removed and losing ones, feeds the
// balancer and the health checker, and (re)starts DNS when the node's
// addresses change.
func (n *Node) syncServices(nets map[string]tables.NetDef, atts []*attachment) {
	set := n.catalog.ServiceSet(nets)
	for _, d := range set.Removed {
		if d.Owner == n.spec.Name {
			n.db.Delete(gossip.ClusterScope, tables.Services, d.Name)
		}
	}
	for _, c := range set.Lost {
		if c.Loser.Name != c.Winner.Name {
			n.log.Warn("service VIP already taken by an earlier service", "service", c.Loser.Name, "vip", c.Loser.VIP, "holder", c.Winner.Name)
		}
		if c.Loser.Owner == n.spec.Name {
			n.db.Delete(gossip.ClusterScope, tables.Services, c.Loser.Name)
			if c.Loser.Origin == n.spec.Name {
				n.log.Error("our service definition lost a conflict and is withdrawn", "service", c.Loser.Name)
			}
		}
	}
	attached := map[string]*attachment{}
	for _, a := range atts {
		attached[a.def.Name] = a
	}
	for _, d := range set.Won {
		if _, ok := attached[d.Network]; ok {
			n.adoptService(d)
		}
	}
	services := set.Services()
	var backends []lb.Backend
	for _, a := range atts {
		backends = append(backends, tables.DecodeBackends(a.def, n.catalog.Rows(a.def.Name, tables.Backends), set.Won)...)
	}
	if err := n.balancer.Update(services, backends); err != nil {
		n.log.Debug("balancer skipped some services", "err", err)
	}
	n.health.SetTargets(lb.HealthTargets(n.spec.Name, services, backends))
	n.rec.services, n.rec.backends = services, backends
	n.publish()
	n.syncDNS(atts)
}

// adoptService republishes a live service definition under this node's name.
func (n *Node) adoptService(d tables.SvcDef) {
	for _, e := range n.db.Lookup(gossip.ClusterScope, tables.Services, d.Name) {
		if e.Owner == n.spec.Name {
			return
		}
	}
	if b, err := d.Encode(); err == nil {
		n.db.Put(gossip.ClusterScope, tables.Services, d.Name, b)
	}
}

// publishHealth is the health checker's Publish: it records a backend's
// state in gossip, where every node's balancer picks it up.
func (n *Node) publishHealth(b lb.Backend) {
	net := ""
	for _, s := range n.current().services {
		if s.Name == b.Service {
			net = s.Network
		}
	}
	if net == "" {
		return
	}
	v := tables.BackendValue{Healthy: b.Healthy}.Encode()
	if err := n.db.Put(net, tables.Backends, tables.BackendKey(b.Service, b.Addr), v); err != nil {
		n.log.Warn("publishing backend health", "service", b.Service, "backend", b.Addr, "err", err)
		return
	}
	n.log.Info("backend health changed", "service", b.Service, "backend", b.Addr, "healthy", b.Healthy)
}
