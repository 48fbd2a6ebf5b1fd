package node

import (
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"strings"

	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/lb"
	"meshnet.dev/meshnet/routing"
)

// Gossip tables of services. Definitions and removals are cluster-wide;
// backends live in their service's network and are owned by the node that
// hosts them, which alone health-checks them.
const (
	tableServices = "services"
	tableRemovals = "service_removals"
	tableBackends = "backends"
)

// svcDef is a service definition as stored in the services table. Like a
// network definition it is republished by every node on the service's
// network, so it outlives its creator; Origin and OriginLTime name the
// original creation, which settles conflicts and identifies it for removal.
type svcDef struct {
	lb.Service
	Origin      string `json:"origin"`
	OriginLTime uint64 `json:"origin_ltime"`

	owner string
}

// svcRemoval marks one service definition (by its origin) as removed.
type svcRemoval struct {
	Origin      string `json:"origin"`
	OriginLTime uint64 `json:"origin_ltime"`
}

// maxSvcBytes bounds a definition or removal from the network.
const maxSvcBytes = 4096

var errBadService = errors.New("malformed service definition")

func decodeSvc(e gossip.Entry) (svcDef, error) {
	var d svcDef
	if len(e.Value) > maxSvcBytes || json.Unmarshal(e.Value, &d) != nil || d.Name != e.Key || d.Origin == "" ||
		lb.ValidateName(d.Name) != nil || len(d.Ports) == 0 || (d.Mode != lb.ModeVIP && d.Mode != lb.ModeDNSRR) {
		return d, errBadService
	}
	if d.OriginLTime == 0 {
		if d.Origin != e.Owner {
			return d, errBadService
		}
		d.OriginLTime = e.LTime
	}
	d.owner = e.Owner
	return d, nil
}

func (d svcDef) before(o svcDef) bool {
	if d.OriginLTime != o.OriginLTime {
		return d.OriginLTime < o.OriginLTime
	}
	return d.Origin < o.Origin
}

func (d svcDef) sameOrigin(o svcDef) bool {
	return d.Origin == o.Origin && d.OriginLTime == o.OriginLTime
}

// clusterServices reads, resolves and filters the cluster's services: the
// earliest creation wins a name and a VIP on a network, removed ones are
// dropped, and services on networks the cluster does not define are left
// out. Losing definitions are returned for reporting.
func (n *Node) clusterServices(nets map[string]netDef) (map[string]svcDef, []svcDef) {
	removed := map[svcRemoval]bool{}
	n.db.Walk(gossip.ClusterScope, tableRemovals, func(e gossip.Entry) bool {
		var r svcRemoval
		if len(e.Value) <= maxSvcBytes && json.Unmarshal(e.Value, &r) == nil {
			removed[r] = true
		}
		return true
	})
	var defs []svcDef
	n.db.Walk(gossip.ClusterScope, tableServices, func(e gossip.Entry) bool {
		d, err := decodeSvc(e)
		if err != nil {
			n.log.Debug("ignoring malformed service definition", "owner", e.Owner, "key", e.Key)
			return true
		}
		if removed[svcRemoval{d.Origin, d.OriginLTime}] {
			if d.owner == n.spec.Name {
				n.db.Delete(gossip.ClusterScope, tableServices, d.Name)
			}
			return true
		}
		nd, ok := nets[d.Network]
		if !ok {
			return true
		}
		d.VNI = nd.VNI
		defs = append(defs, d)
		return true
	})
	slices.SortFunc(defs, func(a, b svcDef) int {
		switch {
		case a.before(b):
			return -1
		case b.before(a):
			return 1
		}
		return 0
	})
	won := map[string]svcDef{}
	vips := map[netip.Addr]string{}
	var lost []svcDef
	for _, d := range defs {
		if w, ok := won[d.Name]; ok {
			if !w.sameOrigin(d) {
				lost = append(lost, d)
			}
			continue
		}
		if d.VIP.IsValid() {
			if other, ok := vips[d.VIP]; ok {
				n.log.Warn("service VIP already taken by an earlier service", "service", d.Name, "vip", d.VIP, "holder", other)
				lost = append(lost, d)
				continue
			}
			vips[d.VIP] = d.Name
		}
		won[d.Name] = d
	}
	return won, lost
}

// backendKey names a backend entry in its network's backends table.
func backendKey(service string, addr netip.AddrPort) string { return service + "/" + addr.String() }

// backendValue is a backend entry's value: its health as its own node sees it.
type backendValue struct {
	Healthy bool `json:"healthy"`
}

// clusterBackends lists the backends of services on network a, with the
// health their nodes published.
func (n *Node) clusterBackends(a *attachment, services map[string]svcDef) []lb.Backend {
	var out []lb.Backend
	n.db.Walk(a.def.Name, tableBackends, func(e gossip.Entry) bool {
		svc, addrText, ok := strings.Cut(e.Key, "/")
		if !ok {
			return true
		}
		d, ok := services[svc]
		if !ok || d.Network != a.def.Name {
			return true
		}
		addr, err := netip.ParseAddrPort(addrText)
		var v backendValue
		if err != nil || !a.def.Subnet.Contains(addr.Addr()) || len(e.Value) > maxSvcBytes || json.Unmarshal(e.Value, &v) != nil {
			return true
		}
		out = append(out, lb.Backend{Service: svc, Addr: addr, Node: e.Owner, Healthy: v.Healthy})
		return true
	})
	return out
}

// syncServices adopts the definitions of services on this node's networks,
// feeds the balancer and the health checker, and (re)starts DNS when the
// node's addresses change.
func (n *Node) syncServices(nets map[string]netDef, atts []*attachment) {
	won, lost := n.clusterServices(nets)
	for _, d := range lost {
		if d.owner == n.spec.Name {
			n.db.Delete(gossip.ClusterScope, tableServices, d.Name)
			if d.Origin == n.spec.Name {
				n.log.Error("our service definition lost a conflict and is withdrawn", "service", d.Name)
			}
		}
	}
	attached := map[string]*attachment{}
	for _, a := range atts {
		attached[a.def.Name] = a
	}
	var services []lb.Service
	var backends []lb.Backend
	for _, d := range won {
		services = append(services, d.Service)
		if _, ok := attached[d.Network]; ok {
			n.adoptService(d)
		}
	}
	for _, a := range atts {
		backends = append(backends, n.clusterBackends(a, won)...)
	}
	slices.SortFunc(services, func(a, b lb.Service) int { return strings.Compare(a.Name, b.Name) })
	if err := n.balancer.Update(services, backends); err != nil {
		n.log.Debug("balancer skipped some services", "err", err)
	}
	n.health.SetTargets(lb.HealthTargets(n.spec.Name, services, backends))
	n.mu.Lock()
	n.services, n.backends = services, backends
	n.mu.Unlock()
	n.syncDNS(atts)
}

// adoptService republishes a live service definition under this node's name.
func (n *Node) adoptService(d svcDef) {
	for _, e := range n.db.Lookup(gossip.ClusterScope, tableServices, d.Name) {
		if e.Owner == n.spec.Name {
			return
		}
	}
	if b, err := json.Marshal(d); err == nil {
		n.db.Put(gossip.ClusterScope, tableServices, d.Name, b)
	}
}

// publishHealth is the health checker's Publish: it records a backend's
// state in gossip, where every node's balancer picks it up.
func (n *Node) publishHealth(b lb.Backend) {
	net := ""
	n.mu.Lock()
	for _, s := range n.services {
		if s.Name == b.Service {
			net = s.Network
		}
	}
	n.mu.Unlock()
	if net == "" {
		return
	}
	v, _ := json.Marshal(backendValue{Healthy: b.Healthy})
	if err := n.db.Put(net, tableBackends, backendKey(b.Service, b.Addr), v); err != nil {
		n.log.Warn("publishing backend health", "service", b.Service, "backend", b.Addr, "err", err)
		return
	}
	n.log.Info("backend health changed", "service", b.Service, "backend", b.Addr, "healthy", b.Healthy)
}

// lbHook adapts the balancer to the Forwarder's hook.
type lbHook struct{ b *lb.Balancer }

func (h lbHook) Outbound(vni uint32, frame []byte) routing.Verdict {
	if h.b.Outbound(vni, frame) == lb.Drop {
		return routing.Drop
	}
	return routing.Pass
}

func (h lbHook) Inbound(vni uint32, frame []byte) routing.Verdict {
	if h.b.Inbound(vni, frame) == lb.Drop {
		return routing.Drop
	}
	return routing.Pass
}

func (h lbHook) LookupVIP(vni uint32, ip netip.Addr) (routing.MAC, bool) {
	if h.b.IsVIP(vni, ip) {
		return lb.ServiceMAC(vni), true
	}
	return routing.MAC{}, false
}

// lbMACs resolves backend MACs for the balancer from the forwarding table.
type lbMACs struct{ t *routing.Table }

func (m lbMACs) LookupMAC(vni uint32, ip netip.Addr) ([6]byte, bool) {
	net := m.t.Snapshot().Network(vni)
	if net == nil {
		return [6]byte{}, false
	}
	mac, _, ok := net.LookupIP(ip)
	return mac, ok
}

// vipInUse reports whether ip is the VIP of a live service.
func (n *Node) vipInUse(ip netip.Addr) (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, s := range n.services {
		if s.VIP == ip {
			return "service " + s.Name, true
		}
	}
	return "", false
}
