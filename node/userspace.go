package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"meshnet.dev/meshnet/lb"
	"meshnet.dev/meshnet/tun"
	"meshnet.dev/meshnet/userspace"
)

// In netstack mode (userspace: true) every network's device is a gVisor
// userspace stack: no TAP/TUN, no capabilities. A stack's address is fixed
// when it is created, so the device is created once the node's address on
// the network is settled, and replaced if it ever changes.

// startStack creates network a's userspace stack holding addr and starts
// forwarding its frames.
func (n *Node) startStack(a *attachment, addr netip.Addr) error {
	if a.dev != nil {
		n.stopStack(a)
	}
	dev, err := tun.NewNetstack(tun.NetstackConfig{
		Name:      "netstack-" + a.def.Name,
		MAC:       a.mac,
		MTU:       max(a.mtu, 1280),
		Addresses: []netip.Prefix{netip.PrefixFrom(addr, a.def.Subnet.Bits())},
	}, neighbors{n.table, a.def.VNI})
	if err != nil {
		return fmt.Errorf("network %s: userspace stack: %w", a.def.Name, err)
	}
	port, err := n.fwd.Attach(a.def.VNI, dev)
	if err != nil {
		dev.Close()
		return fmt.Errorf("network %s: %w", a.def.Name, err)
	}
	a.dev, a.stack, a.port, a.done = dev, dev, port, make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		port.Run()
	}(a.done)
	return nil
}

// stopStack stops forwarding for a's stack and closes it. The proxies
// using it must already be closed (closing a stack under a live sender is
// unsafe in the stack library).
func (n *Node) stopStack(a *attachment) {
	n.fwd.Detach(a.def.VNI)
	a.dev.Close()
	<-a.done
	a.dev, a.stack, a.port = nil, nil, nil
}

// stacks routes dials and listens to the stack of the network that holds
// the address.
type stacks struct{ n *Node }

func (s stacks) pick(ip netip.Addr) (userspace.Netstack, error) {
	for _, a := range s.n.current().nets {
		if a.stack != nil && a.def.Subnet.Contains(ip) {
			return userspace.NewNetstack(a.stack.Net()), nil
		}
	}
	return userspace.Netstack{}, fmt.Errorf("%s is on no network this node is attached to", ip)
}

func (s stacks) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: the overlay is reached by IP:port: %w", addr, err)
	}
	st, err := s.pick(ap.Addr())
	if err != nil {
		return nil, err
	}
	return st.DialContext(ctx, network, addr)
}

func (s stacks) ListenTCP(ap netip.AddrPort) (net.Listener, error) {
	st, err := s.pick(ap.Addr())
	if err != nil {
		return nil, err
	}
	return st.ListenTCP(ap)
}

func (s stacks) ListenUDP(ap netip.AddrPort) (net.PacketConn, error) {
	st, err := s.pick(ap.Addr())
	if err != nil {
		return nil, err
	}
	return st.ListenUDP(ap)
}

// meshResolver resolves overlay names the way meshnet's DNS does, without a
// round trip: services (VIP, or healthy backends in dnsrr mode) and nodes,
// with or without the domain.
type meshResolver struct{ n *Node }

var errNoName = errors.New("no such name in the overlay")

func (r meshResolver) LookupHost(_ context.Context, name string) ([]netip.Addr, error) {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if a, err := netip.ParseAddr(name); err == nil {
		return []netip.Addr{a}, nil
	}
	label := strings.TrimSuffix(name, "."+strings.TrimSuffix(r.n.spec.DNS.Domain, "."))
	if strings.Contains(label, ".") {
		return nil, fmt.Errorf("%s: %w", name, errNoName)
	}
	if s, ok := r.n.balancer.LookupService(label); ok && len(s.Addrs) > 0 {
		return s.Addrs, nil
	}
	if addrs := nodeRecords(r).LookupHost(label); len(addrs) > 0 {
		return addrs, nil
	}
	return nil, fmt.Errorf("%s: %w", name, errNoName)
}

// userspaceState is the running proxies/forwards/exposes and the
// addresses they were started for.
type userspaceState struct {
	server *userspace.Server
	addrs  []netip.Addr
}

// syncUserspace (re)starts the proxies, forwards and exposes when the set
// of overlay addresses changes, and serves DNS inside the stacks.
func (n *Node) syncUserspace(atts []*attachment) {
	var addrs []netip.Addr
	var subnets userspace.Subnets
	for _, a := range atts {
		if a.stack != nil {
			addrs = append(addrs, a.addr)
			subnets = append(subnets, a.def.Subnet)
		}
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	if slices.Equal(addrs, n.rec.us.addrs) {
		return
	}
	n.stopUserspace()
	n.rec.us.addrs = addrs
	if len(addrs) == 0 {
		return
	}
	n.serveStackDNS(atts)
	cfg := n.spec.Proxies
	cfg.OverlayAddrs = addrs
	srv, err := userspace.New(cfg, userspace.Deps{Dialer: stacks{n}, Listener: stacks{n}, Resolver: meshResolver{n},
		Policy: subnets, Logger: n.log.With("component", "userspace")})
	if err != nil {
		n.log.Error("starting proxies, forwards and exposes", "err", err)
		return
	}
	n.rec.us.server = srv
	b := srv.Bound()
	n.log.Info("userspace services up", "socks5", b.SOCKS5, "http_connect", b.HTTPConnect,
		"forwards", len(cfg.Forwards), "exposes", len(cfg.Exposes), "overlay", addrs)
}

func (n *Node) stopUserspace() {
	if n.rec.us.server != nil {
		n.rec.us.server.Close()
		n.rec.us.server = nil
	}
	n.stopDNS()
	n.rec.us.addrs = nil
}

// serveStackDNS answers DNS on port 53 of every stack's address.
func (n *Node) serveStackDNS(atts []*attachment) {
	if !n.spec.DNS.Enabled {
		return
	}
	srv, err := lb.NewDNSServer(n.dnsConfig(nil), n.balancer, nodeRecords{n})
	if err != nil {
		n.log.Error("starting DNS", "err", err)
		return
	}
	for _, a := range atts {
		if a.stack == nil {
			continue
		}
		ap := netip.AddrPortFrom(a.addr, uint16(n.spec.DNS.Port))
		st := userspace.NewNetstack(a.stack.Net())
		pc, err := st.ListenUDP(ap)
		if err == nil {
			err = srv.StartPacketConn(pc)
		}
		if err == nil {
			var l net.Listener
			if l, err = st.ListenTCP(ap); err == nil {
				err = srv.StartListener(l)
			}
		}
		if err != nil {
			n.log.Error("serving DNS in the userspace stack", "address", ap, "err", err)
		}
	}
	n.rec.dns.server = srv
	n.dnsLive.Store(srv)
}
