package node

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/lb"
	"meshnet.dev/meshnet/node/api"
	"meshnet.dev/meshnet/node/control"

	"meshnet.dev/meshnet/node/tables"
)

// Services lists the cluster's services with their backends.
func (n *Node) Services() []api.Service {
	nets, _ := n.clusterDefs()
	won := n.clusterServices(nets).Won
	backends := n.current().backends
	out := make([]api.Service, 0, len(won))
	for _, d := range won {
		s := api.Service{Name: d.Name, Network: d.Network, VNI: d.VNI, Mode: string(d.Mode), Origin: d.Origin}
		if d.VIP.IsValid() {
			s.VIP = d.VIP.String()
		}
		for _, p := range d.Ports {
			s.Ports = append(s.Ports, p.String())
		}
		for _, b := range backends {
			if b.Service == d.Name {
				s.Backends = append(s.Backends, api.Backend{Addr: b.Addr.String(), Node: b.Node, Healthy: b.Healthy})
			}
		}
		slices.SortFunc(s.Backends, func(a, b api.Backend) int { return cmp.Compare(a.Addr, b.Addr) })
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b api.Service) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// networkView describes an attached network to lb's validation: which
// addresses endpoints and other services hold.
func (n *Node) networkView(a netView) lb.NetworkView {
	snap, v := n.table.Snapshot(), n.current()
	return lb.NetworkView{Name: a.def.Name, VNI: a.def.VNI, Subnet: a.def.Subnet,
		AddrInUse: func(ip netip.Addr) (string, bool) {
			if net := snap.Network(a.def.VNI); net != nil {
				if _, p, ok := net.LookupIP(ip); ok {
					if p == nil {
						return "an endpoint of " + n.spec.Name, true
					}
					return "an endpoint of " + p.Name, true
				}
			}
			return v.vipInUse(ip)
		}}
}

// attached returns attached network name, or an error saying where to
// run the command.
func (n *Node) attached(name string) (netView, error) {
	a, ok := n.current().network(name)
	if !ok {
		return a, fmt.Errorf("this node is not on network %q; run the command on a node attached to it (meshnet network join %s)", name, name)
	}
	return a, nil
}

// CreateService defines a service on one of this node's networks.
func (n *Node) CreateService(req api.CreateService) (api.Service, error) {
	if err := lb.ValidateName(req.Name); err != nil {
		return api.Service{}, err
	}
	a, err := n.attached(req.Network)
	if err != nil {
		return api.Service{}, err
	}
	ports, err := lb.ParsePortSpecs(req.Ports)
	if err != nil {
		return api.Service{}, err
	}
	svc := lb.Service{Name: req.Name, Network: a.def.Name, VNI: a.def.VNI, Ports: ports, Mode: lb.Mode(cmp.Or(req.Mode, string(lb.ModeVIP)))}
	if svc.Mode != lb.ModeVIP && svc.Mode != lb.ModeDNSRR {
		return api.Service{}, fmt.Errorf("mode %q: use vip or dnsrr", req.Mode)
	}
	for _, s := range n.Services() {
		if s.Name == req.Name {
			return api.Service{}, fmt.Errorf("%w: service %q already exists (created by %s)", control.ErrConflict, s.Name, s.Origin)
		}
	}
	view := n.networkView(a)
	if svc.Mode == lb.ModeVIP {
		if req.VIP == "" || req.VIP == "auto" {
			if svc.VIP, err = n.allocVIP(a, view); err != nil {
				return api.Service{}, err
			}
		} else if svc.VIP, err = netip.ParseAddr(req.VIP); err != nil {
			return api.Service{}, fmt.Errorf("vip %q: not an IP address (or use auto)", req.VIP)
		}
	}
	if err := lb.ValidateService(svc, view); err != nil {
		return api.Service{}, err
	}
	b, err := tables.SvcDef{Service: svc, Origin: n.spec.Name}.Encode()
	if err != nil {
		return api.Service{}, err
	}
	if err := n.db.Put(gossip.ClusterScope, tables.Services, svc.Name, b); err != nil {
		return api.Service{}, err
	}
	n.poke()
	// A service defined at the same moment elsewhere shows up within a few
	// gossip rounds; tell the caller now if ours lost.
	time.Sleep(settleRounds * n.spec.Gossip.Interval)
	for _, s := range n.Services() {
		if s.Name == svc.Name {
			if s.Origin != n.spec.Name {
				return api.Service{}, fmt.Errorf("%w: service %q was defined at the same time by %s, whose definition wins", control.ErrConflict, s.Name, s.Origin)
			}
			n.log.Info("service defined", "service", s.Name, "network", s.Network, "vip", s.VIP, "ports", s.Ports, "mode", s.Mode)
			return s, nil
		}
	}
	return api.Service{}, fmt.Errorf("%w: service %q lost a conflict (its VIP %s is taken); pick another --vip", control.ErrConflict, svc.Name, svc.VIP)
}

// allocVIP picks a VIP for a new service on network a.
func (n *Node) allocVIP(a netView, view lb.NetworkView) (netip.Addr, error) {
	inUse := func(ip netip.Addr) bool { _, used := view.AddrInUse(ip); return used }
	if ip, ok := tables.FreeVIP(a.def.Subnet, n.rows(a.def.Name, tables.IPAM), inUse); ok {
		return ip, nil
	}
	return netip.Addr{}, fmt.Errorf("no free address left for a VIP in %s; give one with --vip", a.def.Subnet)
}

// RemoveService removes a service from the cluster.
func (n *Node) RemoveService(name string) error {
	nets, _ := n.clusterDefs()
	won := n.clusterServices(nets).Won
	d, ok := won[name]
	if !ok {
		return fmt.Errorf("no service called %q; see `meshnet service ls`", name)
	}
	if err := n.db.Put(gossip.ClusterScope, tables.Removals, name, d.Removal().Encode()); err != nil {
		return err
	}
	n.db.Delete(gossip.ClusterScope, tables.Services, name)
	n.log.Info("service removed", "service", name)
	n.poke()
	return nil
}

// AddBackend registers addr as a backend of a service. Only the node that
// hosts the backend registers it (and health-checks it).
func (n *Node) AddBackend(service, addrText string) error {
	d, a, addr, err := n.backendTarget(service, addrText)
	if err != nil {
		return err
	}
	if net := n.table.Snapshot().Network(a.def.VNI); net != nil {
		if _, p, ok := net.LookupIP(addr.Addr()); !ok || p != nil {
			return fmt.Errorf("%s is not an endpoint behind this node; register a backend on the node that hosts it", addr.Addr())
		}
	}
	b := lb.Backend{Service: service, Addr: addr, Node: n.spec.Name}
	if err := lb.ValidateBackend(b, d.Service, lb.NetworkView{Name: a.def.Name, VNI: a.def.VNI, Subnet: a.def.Subnet}); err != nil {
		return err
	}
	v := tables.BackendValue{Healthy: false}.Encode() // healthy once probed
	if err := n.db.Put(a.def.Name, tables.Backends, tables.BackendKey(service, addr), v); err != nil {
		return err
	}
	n.log.Info("backend added", "service", service, "backend", addr)
	n.poke()
	return nil
}

// RemoveBackend withdraws a backend this node registered.
func (n *Node) RemoveBackend(service, addrText string) error {
	_, a, addr, err := n.backendTarget(service, addrText)
	if err != nil {
		return err
	}
	if err := n.db.Delete(a.def.Name, tables.Backends, tables.BackendKey(service, addr)); err != nil {
		return err
	}
	n.log.Info("backend removed", "service", service, "backend", addr)
	n.poke()
	return nil
}

func (n *Node) backendTarget(service, addrText string) (tables.SvcDef, netView, netip.AddrPort, error) {
	nets, _ := n.clusterDefs()
	won := n.clusterServices(nets).Won
	d, ok := won[service]
	if !ok {
		return d, netView{}, netip.AddrPort{}, fmt.Errorf("no service called %q; see `meshnet service ls`", service)
	}
	a, err := n.attached(d.Network)
	if err != nil {
		return d, netView{}, netip.AddrPort{}, err
	}
	addr, err := netip.ParseAddrPort(addrText)
	if err != nil {
		ip, perr := netip.ParseAddr(addrText)
		if perr != nil {
			return d, netView{}, netip.AddrPort{}, fmt.Errorf("backend %q: write it as IP:PORT (or IP for the service's own port)", addrText)
		}
		addr = netip.AddrPortFrom(ip, 0)
	}
	return d, a, addr, nil
}
