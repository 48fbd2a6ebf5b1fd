package node

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"meshnet.dev/meshnet/internal/packet"
	"meshnet.dev/meshnet/routing"
	"meshnet.dev/meshnet/tun"

	"meshnet.dev/meshnet/node/config"

	"meshnet.dev/meshnet/node/tables"
)

// attachment is a network this node is attached to: its device, its port
// on the forwarder and its address.
type attachment struct {
	def    tables.NetDef
	device string
	bridge string // the Linux bridge the device is in, holding the address; "" for none
	mac    packet.MAC
	mtu    int
	dev    tun.Device
	stack  *tun.Netstack // the device, in netstack mode
	port   *routing.Port
	done   chan struct{} // closed when the port's Run returns
	static netip.Addr    // configured address, if any
	addr   netip.Addr    // address assigned to the device, if any
	ipam   ipamState
}

// attach creates the device of network def, configures it and starts
// forwarding its frames. A port that stops for any reason other than its
// device being closed reports on n.failed.
func (n *Node) attach(def tables.NetDef, want wantedNet) (*attachment, error) {
	mac := config.InterfaceMAC(n.spec.Name, def.Name)
	mtu := want.MTU
	if mtu == 0 {
		mtu = n.deriveMTU(def)
	}
	device := want.Device
	if device == "" {
		device = config.DefaultDevice(def.Name)
	}
	ds := DeviceSpec{Name: device, TUN: n.spec.TUN, MAC: mac, MTU: mtu, Subnet: def.Subnet,
		Neighbors: neighbors{n.table, def.VNI}}
	newDev := n.opts.NewDevice
	if newDev == nil {
		newDev = n.kernelDevice
	}
	n.table.Update(func(tx *routing.Tx) {
		tx.SetNetwork(routing.NetworkConfig{Name: def.Name, VNI: def.VNI, Subnets: []netip.Prefix{def.Subnet}, Encrypted: def.Encrypted})
	})
	if n.spec.Userspace {
		// The stack is created once the address is settled (startStack).
		n.log.Info("network attached (userspace stack once the address is settled)", "network", def.Name, "vni", def.VNI,
			"subnet", def.Subnet, "mtu", mtu, "encrypted", def.Encrypted)
		return &attachment{def: def, device: "netstack-" + def.Name, mac: mac, mtu: mtu, static: want.Address}, nil
	}
	dev, err := newDev(ds)
	if err != nil {
		n.table.Update(func(tx *routing.Tx) { tx.RemoveNetwork(def.VNI) })
		return nil, fmt.Errorf("network %s: %w", def.Name, err)
	}
	port, err := n.fwd.Attach(def.VNI, dev)
	if err != nil {
		dev.Close()
		n.table.Update(func(tx *routing.Tx) { tx.RemoveNetwork(def.VNI) })
		return nil, fmt.Errorf("network %s: %w", def.Name, err)
	}
	// A device prepared beforehand (meshnet device create) keeps its own
	// MAC, MTU and address; the node adopts them.
	mac, mtu = dev.HardwareAddr(), dev.MTU()
	static := want.Address
	if !static.IsValid() && want.Bridge == "" {
		static = deviceAddress(dev.Name(), def.Subnet)
	}
	if err := n.joinBridge(want.Bridge, dev.Name(), mac); err != nil {
		n.fwd.Detach(def.VNI)
		dev.Close()
		n.table.Update(func(tx *routing.Tx) { tx.RemoveNetwork(def.VNI) })
		return nil, fmt.Errorf("network %s: %w", def.Name, err)
	}
	a := &attachment{def: def, device: device, bridge: want.Bridge, mac: mac, mtu: mtu, dev: dev, port: port,
		done: make(chan struct{}), static: static}
	go func() {
		defer close(a.done)
		if err := port.Run(); !isDeviceClosed(err) {
			select {
			case n.failed <- fmt.Errorf("network %s: device %s: %w", def.Name, device, err):
			default:
			}
		}
	}()
	n.log.Info("network attached", "network", def.Name, "vni", def.VNI, "subnet", def.Subnet,
		"device", device, "mtu", mtu, "mac", config.FormatMAC(mac), "encrypted", def.Encrypted)
	return a, nil
}

// detach stops forwarding for a network and removes its device; closing the
// device ends the port's Run and removes the (non-persistent) kernel
// interface with its addresses and routes.
func (n *Node) detach(a *attachment) {
	switch {
	case a.stack != nil:
		n.stopStack(a)
	case a.dev != nil:
		n.fwd.Detach(a.def.VNI)
		if err := a.dev.Close(); err != nil {
			n.log.Warn("closing device", "device", a.device, "err", err)
		}
		<-a.done
		n.leaveBridge(a)
	}
	n.table.Update(func(tx *routing.Tx) { tx.RemoveNetwork(a.def.VNI) })
	n.log.Info("network detached", "network", a.def.Name)
}

// setAddress assigns the node's address on the network to its device.
func (n *Node) setAddress(a *attachment, addr netip.Addr) error {
	if a.addr == addr {
		return nil
	}
	p := netip.PrefixFrom(addr, a.def.Subnet.Bits())
	n.dropStaleBridgeAddress(a, addr)
	if deviceAddress(a.ifname(), a.def.Subnet) == addr {
		// already there (a prepared device, or a restart)
	} else if n.spec.Userspace {
		if err := n.startStack(a, addr); err != nil {
			return err
		}
	} else if n.opts.NewDevice == nil {
		if a.addr.IsValid() {
			if err := n.links.DelAddress(a.ifname(), netip.PrefixFrom(a.addr, a.def.Subnet.Bits())); err != nil {
				n.log.Warn("removing old address", "device", a.ifname(), "err", err)
			}
		}
		if err := n.links.AddAddress(a.ifname(), p); err != nil {
			return fmt.Errorf("adding %s to %s: %w", p, a.ifname(), err)
		}
	}
	a.addr = addr
	n.log.Info("network address assigned", "network", a.def.Name, "address", p)
	return nil
}

// kernelDevice creates a TAP or TUN device, sets its MTU and brings it up.
// Its address comes later, once static config or IPAM decides it. A device
// that already exists (a persistent one made for this user) is opened as it
// is: changing it would need privileges the node may not have.
func (n *Node) kernelDevice(ds DeviceSpec) (tun.Device, error) {
	existing, _ := n.links.LinkExists(ds.Name)
	var dev tun.Device
	var err error
	if ds.TUN {
		cfg := n.spec.Perf.TUNConfig(tun.DefaultTUNConfig(ds.Name, ds.MAC))
		cfg.MTU, cfg.Prefixes = ds.MTU, []netip.Prefix{ds.Subnet}
		if existing {
			cfg.MTU = 0
		}
		dev, err = tun.CreateTUN(cfg, ds.Neighbors)
	} else {
		cfg := n.spec.Perf.TAPConfig(tun.DefaultTAPConfig(ds.Name))
		cfg.MTU, cfg.MAC = ds.MTU, ds.MAC
		if existing {
			cfg.MTU, cfg.MAC = 0, packet.MAC{}
		}
		dev, err = tun.CreateTAP(cfg)
	}
	if err != nil {
		return nil, err
	}
	name := dev.Name()
	n.logOffloads(dev, name)
	if existing {
		n.log.Info("using existing device as it is", "device", name, "mtu", dev.MTU(), "mac", config.FormatMAC(dev.HardwareAddr()))
		return dev, nil
	}
	if err := n.links.SetMTU(name, ds.MTU); err != nil {
		dev.Close()
		return nil, fmt.Errorf("setting MTU %d on %s: %w", ds.MTU, name, err)
	}
	if err := n.links.SetUp(name); err != nil {
		dev.Close()
		return nil, fmt.Errorf("bringing up %s: %w", name, err)
	}
	return dev, nil
}

// preflightDevices opens and closes the device of every configured network,
// so a device held by another process stops `meshnet up` before anything
// starts, instead of failing later in the background.
func (n *Node) preflightDevices() error {
	if n.opts.NewDevice != nil || n.spec.Userspace {
		return nil
	}
	for _, w := range n.spec.Networks {
		var dev tun.Device
		var err error
		if n.spec.TUN {
			dev, err = tun.CreateTUN(tun.DefaultTUNConfig(w.Device, config.InterfaceMAC(n.spec.Name, w.Name)), neighbors{n.table, 0})
		} else {
			dev, err = tun.CreateTAP(tun.DefaultTAPConfig(w.Device))
		}
		if err != nil {
			return fmt.Errorf("network %s: %w", w.Name, err)
		}
		dev.Close()
	}
	return nil
}

// preflightPorts checks that the node's UDP and TCP ports are free before
// anything is created, so a second daemon fails cleanly and leaves no state.
func (n *Node) preflightPorts() error {
	if n.opts.Plain != nil {
		return nil
	}
	checks := []struct {
		network, what, key string
		port               int
	}{
		{"udp", "VXLAN", "underlay.vxlan_port", int(n.spec.VXLANPort)},
		{"udp", "WireGuard", "wireguard.port", int(n.spec.WGPort)},
		{"udp", "gossip", "gossip.port", n.spec.Gossip.Port},
		{"tcp", "gossip", "gossip.port", n.spec.Gossip.Port},
	}
	for _, c := range checks {
		addr := ":" + strconv.Itoa(c.port)
		var err error
		if c.network == "udp" {
			var pc net.PacketConn
			if pc, err = net.ListenPacket("udp", addr); err == nil {
				pc.Close()
			}
		} else {
			var l net.Listener
			if l, err = net.Listen("tcp", addr); err == nil {
				l.Close()
			}
		}
		if err != nil {
			return fmt.Errorf("%s port %d/%s is not free (is another meshnet running?); set %s: %w", c.what, c.port, c.network, c.key, err)
		}
	}
	return nil
}

// fallbackMTU is the underlay MTU assumed when none can be learned.
const fallbackMTU = 1500

// deriveMTU is the underlay MTU minus the network's encapsulation overhead.
func (n *Node) deriveMTU(def tables.NetDef) int {
	return n.underlayMTU() - config.Overhead(def.Encrypted, n.underlay.Addr().Is6())
}

// underlayMTU is the smallest route MTU towards the seeds and the config's
// static peers, or, with none, the MTU of the interface holding the
// underlay address.
func (n *Node) underlayMTU() int {
	m := 0
	consider := func(dst netip.Addr) {
		if !dst.IsValid() {
			return // a static peer behind NAT
		}
		if v, err := n.links.RouteMTU(dst); err == nil && v > 0 && (m == 0 || v < m) {
			m = v
		}
	}
	for _, s := range n.join {
		if ap, err := netip.ParseAddrPort(s); err == nil {
			consider(ap.Addr())
		}
	}
	for _, p := range n.static.get() {
		if p.Encrypted() {
			consider(p.WG.Addr())
		} else {
			consider(p.Underlay.Addr())
		}
	}
	if m == 0 {
		m = interfaceMTU(n.underlay.Addr())
	}
	if m == 0 {
		n.log.Warn("could not learn the underlay MTU; assuming 1500")
		m = fallbackMTU
	}
	return m
}

// deviceAddress returns the kernel interface's address inside subnet, if
// it has one. Reading needs no privilege.
func deviceAddress(name string, subnet netip.Prefix) netip.Addr {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return netip.Addr{}
	}
	addrs, _ := ifc.Addrs()
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && subnet.Contains(p.Addr()) {
			return p.Addr()
		}
	}
	return netip.Addr{}
}

// interfaceMTU is the MTU of the interface that holds addr, or 0.
func interfaceMTU(addr netip.Addr) int {
	ifs, err := net.Interfaces()
	if err != nil {
		return 0
	}
	for _, ifc := range ifs {
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr() == addr {
				return ifc.MTU
			}
		}
	}
	return 0
}

// neighbors resolves overlay IPs to MACs for a TUN device from the table.
type neighbors struct {
	t   *routing.Table
	vni uint32
}

func (nb neighbors) LookupMAC(ip netip.Addr) (packet.MAC, bool) {
	net := nb.t.Snapshot().Network(nb.vni)
	if net == nil {
		return packet.MAC{}, false
	}
	m, _, ok := net.LookupIP(ip)
	return m, ok
}
