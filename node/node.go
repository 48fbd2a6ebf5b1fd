package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"time"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/routing"
	"meshnet.dev/meshnet/tun"
)

// Options are the parts of a node tests replace with fakes. Zero values pick
// the real implementations.
type Options struct {
	Logger *slog.Logger
	// Links configures kernel interfaces; default netlink.
	Links tun.LinkManager
	// NewDevice creates a network's device; default a kernel TAP or TUN.
	NewDevice func(DeviceSpec) (tun.Device, error)
	// Plain is the plain VXLAN transport; default UDP on the configured port.
	Plain encap.Transport
	// SkipControl leaves out the control socket (in-process tests).
	SkipControl bool
}

// DeviceSpec is what a network asks of its device.
type DeviceSpec struct {
	Name      string
	TUN       bool
	MAC       tun.MAC
	MTU       int
	Prefix    netip.Prefix // the node's own address on the network
	Neighbors tun.Neighbors
}

// Node is one running meshnet daemon.
type Node struct {
	spec    *spec
	opts    Options
	log     *slog.Logger
	links   tun.LinkManager
	table   *routing.Table
	fwd     *routing.Forwarder
	plain   encap.Transport
	started time.Time

	mu   sync.Mutex // guards nets
	nets map[uint32]*attachment

	learned chan routing.Learned
	wg      sync.WaitGroup
}

// attachment is a network this node is attached to.
type attachment struct {
	spec netSpec
	mac  routing.MAC
	mtu  int
	dev  tun.Device
	port *routing.Port
	done chan struct{} // closed when the port's Run returns
}

// learnQueue bounds endpoint reports waiting for the table; the Forwarder
// retries reports that do not fit.
const learnQueue = 1024

// New validates cfg and prepares a node; nothing is created until Run.
func New(cfg Config, opts Options) (*Node, error) {
	s, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = NewLogger(os.Stderr, s.logLevel, s.logJSON)
	}
	n := &Node{
		spec:    s,
		opts:    opts,
		log:     opts.Logger.With("node", s.name),
		links:   opts.Links,
		table:   routing.NewTable(),
		nets:    map[uint32]*attachment{},
		learned: make(chan routing.Learned, learnQueue),
	}
	if n.links == nil {
		n.links = tun.NewNetlink()
	}
	return n, nil
}

// Name is the node's name.
func (n *Node) Name() string { return n.spec.name }

// Table exposes the forwarding table (for status and tests).
func (n *Node) Table() *routing.Table { return n.table }

// Run starts the node, blocks until ctx is cancelled or a part fails, then
// tears everything down: devices, sockets and the control socket are gone
// when Run returns.
func (n *Node) Run(ctx context.Context) (err error) {
	n.started = time.Now()
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()
	if !n.opts.SkipControl {
		lock, err := lockStateDir(n.spec.stateDir)
		if err != nil {
			return err
		}
		cleanups = append(cleanups, lock.release)
	}
	if err := n.openTransport(); err != nil {
		return err
	}
	cleanups = append(cleanups, func() { n.plain.Close() })

	n.fwd = routing.New(routing.Config{
		Table:  n.table,
		Plain:  n.plain,
		Learn:  n.offerLearned,
		Logger: n.log,
	})
	n.applyStatic()
	failed := make(chan error, len(n.spec.networks)+1)
	cleanups = append(cleanups, n.detachAll)
	for _, ns := range n.spec.networks {
		if err := n.attach(ns, failed); err != nil {
			return err
		}
	}
	if err := n.plain.Start(n.fwd.PlainReceiver()); err != nil {
		return fmt.Errorf("starting the VXLAN transport: %w", err)
	}
	n.wg.Add(1)
	go n.learnLoop(ctx)
	cleanups = append(cleanups, n.wg.Wait)
	if !n.opts.SkipControl {
		stop, err := n.serveControl()
		if err != nil {
			return err
		}
		cleanups = append(cleanups, stop)
	}
	n.log.Info("meshnet node up", "networks", len(n.spec.networks), "peers", len(n.spec.peers),
		"vxlan_port", n.plain.LocalPort(), "mode", n.modeName())
	select {
	case <-ctx.Done():
		n.log.Info("shutting down")
		return nil
	case err := <-failed:
		return err
	}
}

func (n *Node) modeName() string {
	if n.spec.tun {
		return "tun"
	}
	return "tap"
}

// openTransport opens the plain VXLAN socket.
func (n *Node) openTransport() error {
	if n.opts.Plain != nil {
		n.plain = n.opts.Plain
		return nil
	}
	p, err := encap.NewPlain(encap.PlainConfig{Port: n.spec.vxlanPort, Logger: n.log})
	if err != nil {
		return err
	}
	n.plain = p
	return nil
}

// applyStatic loads networks and static peers into the table.
func (n *Node) applyStatic() {
	n.table.Update(func(tx *routing.Tx) {
		for _, ns := range n.spec.networks {
			tx.SetNetwork(routing.NetworkConfig{Name: ns.name, VNI: ns.vni, Subnets: []netip.Prefix{ns.subnet}, Encrypted: ns.encrypted})
			tx.SetEndpoint(ns.vni, routing.Endpoint{MAC: InterfaceMAC(n.spec.name, ns.name), IP: ns.addr.Addr()})
		}
		for _, p := range n.spec.peers {
			tx.SetPeer(routing.PeerConfig{Name: p.name, Underlay: p.underlay})
			for _, e := range p.endpoints {
				tx.SetMember(e.vni, p.name, true)
				tx.SetEndpoint(e.vni, routing.Endpoint{MAC: e.mac, IP: e.ip, Node: p.name})
			}
		}
	})
}

// offerLearned hands an endpoint seen on a device to the learn loop without
// blocking the data path.
func (n *Node) offerLearned(l routing.Learned) bool {
	select {
	case n.learned <- l:
		return true
	default:
		return false
	}
}

// learnLoop records endpoints learned behind local devices.
func (n *Node) learnLoop(ctx context.Context) {
	defer n.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case l := <-n.learned:
			n.table.Update(func(tx *routing.Tx) {
				tx.SetEndpoint(l.VNI, routing.Endpoint{MAC: l.MAC, IP: l.IP})
			})
			n.log.Debug("learned local endpoint", "vni", l.VNI, "mac", FormatMAC(l.MAC), "ip", l.IP)
		}
	}
}

// errDeviceGone is how a port's Run ends when its device was closed on
// purpose.
func isDeviceClosed(err error) bool {
	return errors.Is(err, tun.ErrClosed) || errors.Is(err, os.ErrClosed)
}
