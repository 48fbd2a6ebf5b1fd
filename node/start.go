package node

import (
	"context"
	"fmt"
	"meshnet.dev/meshnet/node/endpoints"
	"net/netip"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/lb"
	"meshnet.dev/meshnet/node/config"
	"meshnet.dev/meshnet/node/control"
	"meshnet.dev/meshnet/routing"
)

// A step starts one part of the node and returns what stops it (nil when
// there is nothing to stop). A step that fails undoes its own work; Run
// then stops the steps before it in reverse order.
type step func(ctx context.Context) (stop func(), err error)

// steps are the node's start steps, in order. Each one's stop runs in
// reverse order when the node stops: the control socket goes first, the
// state lock last, so `meshnet down` returns once ports and devices are
// free.
func (n *Node) steps() []step {
	return []step{
		n.startProfile,   // performance.cpu_profile: the profile covers the whole run
		n.lockState,      // one daemon per state directory
		n.restore,        // node.state: seeds, networks joined at run time, blocks held
		n.preflight,      // devices and ports free before anything is created
		n.openKeys,       // the node's identity and cluster membership
		n.openPlain,      // the VXLAN socket and the underlay address
		n.openSecure,     // the embedded WireGuard
		n.startServices,  // the load balancer and backend health checks
		n.startForwarder, // the data path; every network is detached when it stops
		n.startMemory,    // the memory limit and the idle release, watching the data path
		n.startGossip,    // membership and tables; the node leaves the cluster when it stops
		n.startReceiving, // both transports deliver to the forwarder
		n.startKeySync,   // the key watch and, on the admin, rotations
		n.startLoops,     // the reconciler, learn and join loops
		n.startMetrics,   // metrics.address; Reload refuses once it stops
		n.startControl,   // the control socket
	}
}

// lockState takes the state directory's lock.
func (n *Node) lockState(context.Context) (func(), error) {
	if n.opts.SkipControl {
		return nil, nil
	}
	lock, err := lockStateDir(n.spec.StateDir)
	if err != nil {
		return nil, err
	}
	return lock.release, nil
}

// restore applies the state file.
func (n *Node) restore(context.Context) (func(), error) {
	if n.opts.SkipControl {
		return nil, nil
	}
	p, err := loadState(n.spec.StateDir)
	if err != nil {
		return nil, err
	}
	n.restoreState(p)
	reg, err := endpoints.Open(n.spec.StateDir)
	if err != nil {
		return nil, err
	}
	n.endpoints = reg
	return nil, nil
}

// preflight checks that the devices and ports are free.
func (n *Node) preflight(context.Context) (func(), error) {
	if err := n.preflightDevices(); err != nil {
		return nil, err
	}
	return nil, n.preflightPorts()
}

// openKeys opens the node's keys and checks the static peers against this
// node's own key and VTEP (Reload checks them against the whole cluster).
func (n *Node) openKeys(context.Context) (func(), error) {
	if err := n.loadKeys(); err != nil {
		return nil, err
	}
	return nil, config.CheckPeers(n.static.get(), n.clusterFacts())
}

// openPlain opens the plain VXLAN socket and decides the underlay address
// peers reach this node on.
func (n *Node) openPlain(context.Context) (func(), error) {
	addr, err := n.pickUnderlay()
	if err != nil {
		return nil, err
	}
	n.plain = n.opts.Plain
	if n.plain == nil {
		p, err := encap.NewPlain(n.spec.Perf.PlainConfig(encap.PlainConfig{Port: n.spec.VXLANPort, Logger: n.log, IPv4Only: addr.Is4()}))
		if err != nil {
			return nil, err
		}
		n.plain = p
	}
	n.underlay = netip.AddrPortFrom(addr, n.plain.LocalPort())
	if n.opts.Underlay.IsValid() {
		n.underlay = n.opts.Underlay
	}
	return func() { n.plain.Close() }, nil
}

// startServices creates the load balancer and the health checker of this
// node's backends.
func (n *Node) startServices(context.Context) (func(), error) {
	bc := lb.DefaultBalancerConfig()
	bc.MACs = n.table
	var err error
	if n.balancer, err = lb.NewBalancer(bc); err != nil {
		return nil, err
	}
	hc := lb.DefaultHealthConfig()
	hc.Node, hc.Interval, hc.Publish, hc.Logger = n.spec.Name, n.spec.Health, n.publishHealth, n.log.With("component", "health")
	hc.Timeout = min(hc.Timeout, hc.Interval)
	if n.spec.Userspace {
		hc.Dialer = stacks{n} // backends live in the userspace stacks
	}
	if n.health, err = lb.NewHealthChecker(hc); err != nil {
		return nil, err
	}
	return func() { n.health.Close() }, nil
}

// startForwarder creates the Forwarder; networks attach to it later.
func (n *Node) startForwarder(context.Context) (func(), error) {
	fc := n.spec.Perf.ForwarderConfig(routing.Config{Table: n.table, Plain: n.plain, Learn: n.offerLearned, Logger: n.log, Hook: n.balancer,
		BUMRate: float64(n.spec.Broadcast.Rate), BUMBurst: n.spec.Broadcast.Burst})
	if n.secure != nil {
		fc.Secure = n.secure
	}
	n.fwd = routing.New(fc)
	return n.detachAll, nil
}

// startReceiving lets both transports deliver to the Forwarder.
func (n *Node) startReceiving(context.Context) (func(), error) {
	if err := n.plain.Start(n.fwd.PlainReceiver()); err != nil {
		return nil, fmt.Errorf("starting the VXLAN transport: %w", err)
	}
	if n.secure != nil {
		if err := n.secure.Start(n.fwd.SecureReceiver()); err != nil {
			return nil, fmt.Errorf("starting the encrypted transport: %w", err)
		}
	}
	return nil, nil
}

// startKeySync starts the key watch and the admin's rotations.
func (n *Node) startKeySync(context.Context) (func(), error) {
	if err := n.keys.Start(); err != nil {
		return nil, err
	}
	return n.keys.Close, nil
}

// startLoops starts the node's own goroutines: the reconciler, the learn
// loop, the join loop and the roaming watch. Stopping them waits for them, then stops what
// only the reconciler touched and saves the state file a last time.
func (n *Node) startLoops(ctx context.Context) (func(), error) {
	loops, stop := context.WithCancel(ctx)
	n.loops.Add(4)
	go n.learnLoop(loops)
	go n.reconcileLoop(loops)
	go n.joinLoop(loops)
	go n.roamLoop(loops)
	return func() {
		stop()
		n.loops.Wait()
		n.stopUserspace()
		n.persist()
	}, nil
}

// startMetrics serves metrics if metrics.address is set.
func (n *Node) startMetrics(context.Context) (func(), error) {
	if err := n.setMetrics(n.spec.Metrics); err != nil {
		return nil, err
	}
	return n.halt, nil
}

// startControl serves the control API.
func (n *Node) startControl(context.Context) (func(), error) {
	if n.opts.SkipControl {
		return nil, nil
	}
	return control.Serve(n.spec.StateDir, n, n.log)
}
