package node

import (
	"fmt"
	"net/netip"

	"meshnet.dev/meshnet/routing"
	"meshnet.dev/meshnet/tun"
)

// attach creates the device of network ns, configures it and starts
// forwarding its frames. A port that stops for any reason other than its
// device being closed reports on failed.
func (n *Node) attach(ns netSpec, failed chan<- error) error {
	mac := InterfaceMAC(n.spec.name, ns.name)
	mtu := ns.mtu
	if mtu == 0 {
		mtu = n.deriveMTU(ns)
	}
	ds := DeviceSpec{Name: ns.device, TUN: n.spec.tun, MAC: mac, MTU: mtu, Prefix: ns.addr,
		Neighbors: neighbors{n.table, ns.vni}}
	newDev := n.opts.NewDevice
	if newDev == nil {
		newDev = n.kernelDevice
	}
	dev, err := newDev(ds)
	if err != nil {
		return fmt.Errorf("network %s: %w", ns.name, err)
	}
	port, err := n.fwd.Attach(ns.vni, dev)
	if err != nil {
		dev.Close()
		return fmt.Errorf("network %s: %w", ns.name, err)
	}
	a := &attachment{spec: ns, mac: mac, mtu: mtu, dev: dev, port: port, done: make(chan struct{})}
	n.mu.Lock()
	n.nets[ns.vni] = a
	n.mu.Unlock()
	go func() {
		defer close(a.done)
		if err := port.Run(); !isDeviceClosed(err) {
			failed <- fmt.Errorf("network %s: device %s: %w", ns.name, ns.device, err)
		}
	}()
	n.log.Info("network attached", "network", ns.name, "vni", ns.vni, "device", ns.device,
		"address", ns.addr, "mtu", mtu, "mac", FormatMAC(mac))
	return nil
}

// kernelDevice creates and configures a TAP or TUN device.
func (n *Node) kernelDevice(ds DeviceSpec) (tun.Device, error) {
	var dev tun.Device
	var err error
	if ds.TUN {
		dev, err = tun.CreateTUN(tun.TUNConfig{Name: ds.Name, MTU: ds.MTU, MAC: ds.MAC,
			Prefixes: []netip.Prefix{ds.Prefix}}, ds.Neighbors)
	} else {
		dev, err = tun.CreateTAP(tun.TAPConfig{Name: ds.Name, MTU: ds.MTU, MAC: ds.MAC, Owner: -1, Group: -1})
	}
	if err != nil {
		return nil, err
	}
	name := dev.Name()
	steps := []struct {
		what string
		do   func() error
	}{
		{"set MTU", func() error { return n.links.SetMTU(name, ds.MTU) }},
		{"add address", func() error { return n.links.AddAddress(name, ds.Prefix) }},
		{"bring up", func() error { return n.links.SetUp(name) }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			dev.Close()
			return nil, fmt.Errorf("%s on %s: %w", s.what, name, err)
		}
	}
	return dev, nil
}

// detachAll stops every network: closing a device ends its port's Run and
// removes the (non-persistent) kernel interface with its addresses and
// routes.
func (n *Node) detachAll() {
	n.mu.Lock()
	nets := n.nets
	n.nets = map[uint32]*attachment{}
	n.mu.Unlock()
	for vni, a := range nets {
		n.fwd.Detach(vni)
		if err := a.dev.Close(); err != nil {
			n.log.Warn("closing device", "device", a.spec.device, "err", err)
		}
		<-a.done
	}
}

// Encapsulation overhead on top of the inner IP packet: inner Ethernet (14),
// VXLAN (8), UDP (8) and the outer IP header.
const (
	overheadPlain4 = 14 + 8 + 8 + 20
	overheadPlain6 = 14 + 8 + 8 + 40
	fallbackMTU    = 1500
)

// deriveMTU is the smallest underlay path MTU towards the peers of ns minus
// the encapsulation overhead. With no peers yet it uses the underlay
// address's own route.
func (n *Node) deriveMTU(ns netSpec) int {
	best := 0
	v6 := false
	consider := func(dst netip.Addr) {
		m, err := n.links.RouteMTU(dst)
		if err != nil || m <= 0 {
			n.log.Debug("no route MTU", "dst", dst, "err", err)
			return
		}
		if best == 0 || m < best {
			best = m
		}
		v6 = v6 || dst.Is6()
	}
	for _, p := range n.spec.peers {
		for _, e := range p.endpoints {
			if e.vni == ns.vni {
				consider(p.underlay.Addr())
				break
			}
		}
	}
	if best == 0 && n.spec.underlay.IsValid() {
		consider(n.spec.underlay)
	}
	if best == 0 {
		best = fallbackMTU
		n.log.Warn("could not learn the underlay MTU; assuming 1500", "network", ns.name)
	}
	if v6 {
		return best - overheadPlain6
	}
	return best - overheadPlain4
}

// neighbors resolves overlay IPs to MACs for a TUN device from the table.
type neighbors struct {
	t   *routing.Table
	vni uint32
}

func (nb neighbors) LookupMAC(ip netip.Addr) (tun.MAC, bool) {
	net := nb.t.Snapshot().Network(nb.vni)
	if net == nil {
		return tun.MAC{}, false
	}
	m, _, ok := net.LookupIP(ip)
	return m, ok
}
