package catalog

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

// ListServices lists the cluster's services with their backends.
func (c *Catalog) ListServices() []api.Service {
	nets, _ := c.Defs()
	won := c.ServiceSet(nets).Won
	backends := c.cfg.Local.Backends()
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
func (c *Catalog) networkView(d tables.NetDef) lb.NetworkView {
	snap, services := c.cfg.Local.Snapshot(), c.cfg.Local.Services()
	return lb.NetworkView{Name: d.Name, VNI: d.VNI, Subnet: d.Subnet,
		AddrInUse: func(ip netip.Addr) (string, bool) {
			if net := snap.Network(d.VNI); net != nil {
				if _, p, ok := net.LookupIP(ip); ok {
					if p == nil {
						return "an endpoint of " + c.cfg.Self, true
					}
					return "an endpoint of " + p.Name, true
				}
			}
			for _, s := range services {
				if s.VIP == ip {
					return "service " + s.Name, true
				}
			}
			return "", false
		}}
}

// attached returns attached network name's definition, or an error
// saying where to run the command.
func (c *Catalog) attached(name string) (tables.NetDef, error) {
	d, ok := c.cfg.Local.Attached(name)
	if !ok {
		return d, fmt.Errorf("this node is not on network %q; run the command on a node attached to it (meshnet network join %s)", name, name)
	}
	return d, nil
}

// CreateService defines a service on one of this node's networks. It
// waits for the settle time and reports a conflict if another node
// defined the same name or VIP first.
func (c *Catalog) CreateService(req api.CreateService) (api.Service, error) {
	if err := lb.ValidateName(req.Name); err != nil {
		return api.Service{}, err
	}
	a, err := c.attached(req.Network)
	if err != nil {
		return api.Service{}, err
	}
	ports, err := lb.ParsePortSpecs(req.Ports)
	if err != nil {
		return api.Service{}, err
	}
	svc := lb.Service{Name: req.Name, Network: a.Name, VNI: a.VNI, Ports: ports, Mode: lb.Mode(cmp.Or(req.Mode, string(lb.ModeVIP)))}
	if svc.Mode != lb.ModeVIP && svc.Mode != lb.ModeDNSRR {
		return api.Service{}, fmt.Errorf("mode %q: use vip or dnsrr", req.Mode)
	}
	for _, s := range c.ListServices() {
		if s.Name == req.Name {
			return api.Service{}, fmt.Errorf("%w: service %q already exists (created by %s)", control.ErrConflict, s.Name, s.Origin)
		}
	}
	view := c.networkView(a)
	if svc.Mode == lb.ModeVIP {
		if req.VIP == "" || req.VIP == "auto" {
			if svc.VIP, err = c.allocVIP(a, view); err != nil {
				return api.Service{}, err
			}
		} else if svc.VIP, err = netip.ParseAddr(req.VIP); err != nil {
			return api.Service{}, fmt.Errorf("vip %q: not an IP address (or use auto)", req.VIP)
		}
	}
	if err := lb.ValidateService(svc, view); err != nil {
		return api.Service{}, err
	}
	b, err := tables.SvcDef{Service: svc, Origin: c.cfg.Self}.Encode()
	if err != nil {
		return api.Service{}, err
	}
	if err := c.cfg.Gossip.Put(gossip.ClusterScope, tables.Services, svc.Name, b); err != nil {
		return api.Service{}, err
	}
	c.cfg.Local.Poke()
	// A service defined at the same moment elsewhere shows up within a few
	// gossip rounds; tell the caller now if ours lost.
	time.Sleep(c.cfg.Settle)
	for _, s := range c.ListServices() {
		if s.Name == svc.Name {
			if s.Origin != c.cfg.Self {
				return api.Service{}, fmt.Errorf("%w: service %q was defined at the same time by %s, whose definition wins", control.ErrConflict, s.Name, s.Origin)
			}
			c.log.Info("service defined", "service", s.Name, "network", s.Network, "vip", s.VIP, "ports", s.Ports, "mode", s.Mode)
			return s, nil
		}
	}
	return api.Service{}, fmt.Errorf("%w: service %q lost a conflict (its VIP %s is taken); pick another --vip", control.ErrConflict, svc.Name, svc.VIP)
}

// allocVIP picks a VIP for a new service on network d.
func (c *Catalog) allocVIP(d tables.NetDef, view lb.NetworkView) (netip.Addr, error) {
	inUse := func(ip netip.Addr) bool { _, used := view.AddrInUse(ip); return used }
	if ip, ok := tables.FreeVIP(d.Subnet, c.Rows(d.Name, tables.IPAM), inUse); ok {
		return ip, nil
	}
	return netip.Addr{}, fmt.Errorf("no free address left for a VIP in %s; give one with --vip", d.Subnet)
}

// RemoveService removes a service from the cluster.
func (c *Catalog) RemoveService(name string) error {
	nets, _ := c.Defs()
	d, ok := c.ServiceSet(nets).Won[name]
	if !ok {
		return fmt.Errorf("no service called %q; see `meshnet service ls`", name)
	}
	if err := c.cfg.Gossip.Put(gossip.ClusterScope, tables.Removals, name, d.Removal().Encode()); err != nil {
		return err
	}
	c.cfg.Gossip.Delete(gossip.ClusterScope, tables.Services, name)
	c.log.Info("service removed", "service", name)
	c.cfg.Local.Poke()
	return nil
}

// AddBackend registers addr as a backend of a service. Only the node that
// hosts the backend registers it (and health-checks it).
func (c *Catalog) AddBackend(service, addrText string) error {
	d, a, addr, err := c.backendTarget(service, addrText)
	if err != nil {
		return err
	}
	if net := c.cfg.Local.Snapshot().Network(a.VNI); net != nil {
		if _, p, ok := net.LookupIP(addr.Addr()); !ok || p != nil {
			return fmt.Errorf("%s is not an endpoint behind this node; register a backend on the node that hosts it", addr.Addr())
		}
	}
	b := lb.Backend{Service: service, Addr: addr, Node: c.cfg.Self}
	if err := lb.ValidateBackend(b, d.Service, lb.NetworkView{Name: a.Name, VNI: a.VNI, Subnet: a.Subnet}); err != nil {
		return err
	}
	v := tables.BackendValue{Healthy: false}.Encode() // healthy once probed
	if err := c.cfg.Gossip.Put(a.Name, tables.Backends, tables.BackendKey(service, addr), v); err != nil {
		return err
	}
	c.log.Info("backend added", "service", service, "backend", addr)
	c.cfg.Local.Poke()
	return nil
}

// RemoveBackend withdraws a backend this node registered.
func (c *Catalog) RemoveBackend(service, addrText string) error {
	_, a, addr, err := c.backendTarget(service, addrText)
	if err != nil {
		return err
	}
	if err := c.cfg.Gossip.Delete(a.Name, tables.Backends, tables.BackendKey(service, addr)); err != nil {
		return err
	}
	c.log.Info("backend removed", "service", service, "backend", addr)
	c.cfg.Local.Poke()
	return nil
}

// backendTarget finds the service, its network (which this node must be
// on) and the backend's address for a backend request.
func (c *Catalog) backendTarget(service, addrText string) (tables.SvcDef, tables.NetDef, netip.AddrPort, error) {
	nets, _ := c.Defs()
	d, ok := c.ServiceSet(nets).Won[service]
	if !ok {
		return d, tables.NetDef{}, netip.AddrPort{}, fmt.Errorf("no service called %q; see `meshnet service ls`", service)
	}
	a, err := c.attached(d.Network)
	if err != nil {
		return d, a, netip.AddrPort{}, err
	}
	addr, err := netip.ParseAddrPort(addrText)
	if err != nil {
		ip, perr := netip.ParseAddr(addrText)
		if perr != nil {
			return d, a, netip.AddrPort{}, fmt.Errorf("backend %q: write it as IP:PORT (or IP for the service's own port)", addrText)
		}
		addr = netip.AddrPortFrom(ip, 0)
	}
	return d, a, addr, nil
}
