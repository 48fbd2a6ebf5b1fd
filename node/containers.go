package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"meshnet.dev/meshnet/node/api"
	"meshnet.dev/meshnet/node/endpoints"
	"meshnet.dev/meshnet/node/tables"
)

// Container endpoints (meshnet-cni): the control API allocates an address
// from this node's IPAM block and a MAC from the names, the registry
// (node/endpoints) records the endpoint in the state directory, and the
// node publishes it in the network's endpoints table, so every other node
// answers ARP/ND for it and forwards to this node. The reconciler
// republishes every recorded endpoint that gossip lacks (after a restart,
// or once the network is attached again); withdrawing deletes the entry.

// endpointWait bounds how long an ADD waits for the network to be attached
// and the node's address block to settle (a daemon that just started).
const endpointWait = 15 * time.Second

// AddEndpoint implements control.Operations.
func (n *Node) AddEndpoint(ctx context.Context, network string, req api.EndpointRequest) (api.ContainerEndpoint, error) {
	if err := endpoints.CheckNames(req.ContainerID, req.IfName); err != nil {
		return api.ContainerEndpoint{}, err
	}
	nv, block, err := n.waitEndpointNetwork(ctx, network)
	if err != nil {
		return api.ContainerEndpoint{}, err
	}
	k := endpoints.Key{Network: network, ContainerID: req.ContainerID, IfName: req.IfName}
	ep, created, err := n.endpoints.Add(k, endpoints.MAC(n.spec.Name, k), func(taken map[netip.Addr]bool) (netip.Addr, error) {
		used := n.usedAddrs(nv)
		ip, err := endpoints.Allocate(nv.def.Subnet, []netip.Prefix{block}, func(a netip.Addr) bool { return taken[a] || used[a] })
		if errors.Is(err, endpoints.ErrFull) {
			return ip, fmt.Errorf("network %s: %w %s (each node holds 1/64 of the subnet, and at least four addresses: "+
				"give the network a larger subnet for containers)", network, err, block)
		}
		return ip, err
	})
	if err != nil {
		return api.ContainerEndpoint{}, err
	}
	if err := n.db.Put(network, tables.Endpoints, tables.EndpointKey(ep.MAC, ep.IP), nil); err != nil {
		if created {
			n.endpoints.Remove(k)
		}
		return api.ContainerEndpoint{}, fmt.Errorf("publishing the endpoint: %w", err)
	}
	if created {
		n.log.Info("container endpoint published", "network", network, "container", ep.ContainerID, "ifname", ep.IfName,
			"ip", ep.IP, "mac", net.HardwareAddr(ep.MAC[:]).String())
	}
	n.poke()
	return n.describeEndpoint(ep, nv, false), nil
}

// waitEndpointNetwork waits until network is attached with a bridge and
// the node's address block has settled.
func (n *Node) waitEndpointNetwork(ctx context.Context, network string) (netView, netip.Prefix, error) {
	ctx, cancel := context.WithTimeout(ctx, endpointWait)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		var err error
		if n.isReady() {
			v := n.current()
			nv, ok := v.network(network)
			block, settled := v.blocks[network]
			switch {
			case !ok:
				err = fmt.Errorf("this node is not attached to network %q: add it to the config's networks with a bridge, or wait for its definition", network)
			case nv.bridge == "":
				return netView{}, netip.Prefix{}, fmt.Errorf("network %q has no bridge on this node: set networks[].bridge in the config (TAP mode) and restart the daemon", network)
			case !settled || !nv.addr.IsValid():
				err = fmt.Errorf("network %q: this node's address block has not settled yet; retry in a few seconds", network)
			default:
				return nv, block, nil
			}
		} else {
			err = errors.New("the daemon is still starting; retry in a few seconds")
		}
		select {
		case <-ctx.Done():
			return netView{}, netip.Prefix{}, err
		case <-tick.C:
		}
	}
}

// usedAddrs is every address of the network that an endpoint, a node or
// a service holds, as this node sees it.
func (n *Node) usedAddrs(nv netView) map[netip.Addr]bool {
	used := map[netip.Addr]bool{nv.addr: true}
	if net := n.table.Snapshot().Network(nv.def.VNI); net != nil {
		for _, e := range net.Endpoints() {
			used[e.IP] = true
		}
	}
	for _, svc := range n.current().services {
		used[svc.VIP] = true
	}
	return used
}

// RemoveEndpoint implements control.Operations: it forgets the endpoint and
// withdraws every entry this node publishes with its MAC (the allocated
// address, and any the learn loop added). An unknown endpoint is no error.
func (n *Node) RemoveEndpoint(network, containerID, ifname string) error {
	if err := endpoints.CheckNames(containerID, ifname); err != nil {
		return err
	}
	ep, ok, err := n.endpoints.Remove(endpoints.Key{Network: network, ContainerID: containerID, IfName: ifname})
	if err != nil || !ok {
		return err
	}
	n.withdrawMAC(network, ep)
	n.log.Info("container endpoint withdrawn", "network", network, "container", containerID, "ifname", ifname, "ip", ep.IP)
	n.poke()
	return nil
}

// withdrawMAC deletes this node's endpoint entries with ep's MAC.
func (n *Node) withdrawMAC(network string, ep endpoints.Endpoint) {
	keys := map[string]bool{tables.EndpointKey(ep.MAC, ep.IP): true}
	prefix := tables.EndpointKey(ep.MAC, netip.Addr{})
	for _, e := range n.catalog.Rows(network, tables.Endpoints) {
		if e.Owner == n.spec.Name && strings.HasPrefix(e.Key, prefix) {
			keys[e.Key] = true
		}
	}
	for k := range keys {
		if err := n.db.Delete(network, tables.Endpoints, k); err != nil {
			n.log.Debug("withdrawing container endpoint entry", "network", network, "key", k, "err", err)
		}
	}
}

// Endpoints implements control.Operations.
func (n *Node) Endpoints(network string) (api.NetworkEndpoints, error) {
	if !n.isReady() {
		return api.NetworkEndpoints{}, errors.New("the daemon is still starting; retry in a few seconds")
	}
	out := api.NetworkEndpoints{Network: network, Endpoints: []api.NetworkEndpoint{}, Containers: []api.ContainerEndpoint{}}
	nv, attached := n.current().network(network)
	out.Attached, out.Bridge, out.MTU = attached, nv.bridge, nv.mtu
	if attached {
		out.Subnet = nv.def.Subnet.String()
	}
	if nv.addr.IsValid() {
		out.Gateway = nv.addr.String()
	}
	mine := map[string]endpoints.Endpoint{}
	for _, ep := range n.endpoints.List(network) {
		mine[tables.EndpointKey(ep.MAC, ep.IP)] = ep
	}
	published := map[string]bool{}
	if net := n.table.Snapshot().Network(nv.def.VNI); attached && net != nil {
		for _, e := range net.Endpoints() {
			ne := api.NetworkEndpoint{MAC: net2str(e.MAC), Node: e.Node}
			if e.IP.IsValid() {
				ne.IP = e.IP.String()
			}
			if ne.Node == "" {
				ne.Node = n.spec.Name
			}
			key := tables.EndpointKey(e.MAC, e.IP)
			if ep, ok := mine[key]; ok && ne.Node == n.spec.Name {
				ne.ContainerID, ne.IfName = ep.ContainerID, ep.IfName
				published[key] = true
			}
			out.Endpoints = append(out.Endpoints, ne)
		}
	}
	for _, ep := range n.endpoints.List(network) {
		out.Containers = append(out.Containers, n.describeEndpoint(ep, nv, published[tables.EndpointKey(ep.MAC, ep.IP)]))
	}
	return out, nil
}

// describeEndpoint is ep as the API reports it.
func (n *Node) describeEndpoint(ep endpoints.Endpoint, nv netView, published bool) api.ContainerEndpoint {
	c := api.ContainerEndpoint{Network: ep.Network, ContainerID: ep.ContainerID, IfName: ep.IfName, MAC: net2str(ep.MAC),
		Address: ep.IP.String(), Bridge: nv.bridge, MTU: nv.mtu, Published: published}
	if nv.def.Subnet.IsValid() {
		c.Address = netip.PrefixFrom(ep.IP, nv.def.Subnet.Bits()).String()
	}
	if nv.addr.IsValid() {
		c.Gateway = nv.addr.String()
	}
	return c
}

func net2str(m [6]byte) string { return net.HardwareAddr(m[:]).String() }

// republishEndpoints puts every recorded container endpoint of attached
// network a that gossip does not hold under this node's name: after a
// restart, or when the network was attached again.
func (n *Node) republishEndpoints(a *attachment) {
	for _, ep := range n.endpoints.List(a.def.Name) {
		key := tables.EndpointKey(ep.MAC, ep.IP)
		held := false
		for _, e := range n.db.Lookup(a.def.Name, tables.Endpoints, key) {
			held = held || e.Owner == n.spec.Name
		}
		if held {
			continue
		}
		if err := n.db.Put(a.def.Name, tables.Endpoints, key, nil); err != nil {
			n.log.Warn("republishing container endpoint", "network", a.def.Name, "container", ep.ContainerID, "err", err)
		}
	}
}

// containerAddrs are the addresses of this node's container endpoints on
// network: its own, so they never stop it reclaiming its block.
func (n *Node) containerAddrs(network string) map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	for _, ep := range n.endpoints.List(network) {
		out[ep.IP] = true
	}
	return out
}
