package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/node/catalog"
)

// startGossip creates the gossip DB: this node's membership in the cluster
// and its replicated tables. Stopping it leaves the cluster.
func (n *Node) startGossip(context.Context) (func(), error) {
	meta, err := n.meta()
	if err != nil {
		return nil, err
	}
	g := gossip.DefaultConfig()
	g.Name = n.spec.Name
	g.BindAddr = "0.0.0.0"
	if n.underlay.Addr().Is6() {
		g.BindAddr = "::"
	}
	g.BindPort = n.spec.Gossip.Port
	g.AdvertiseAddr = n.underlay.Addr().String()
	g.AdvertisePort = n.spec.Gossip.Port
	if n.localUnderlay.IsValid() {
		g.LocalAddr = n.localUnderlay.String()
	}
	g.Meta = meta
	g.Keys, g.PrimaryKey = n.keys.GossipKeys()
	g.GossipInterval = n.spec.Gossip.Interval
	g.Fanout = n.spec.Gossip.Fanout
	g.BulkSyncInterval = n.spec.Gossip.BulkSyncInterval
	g.Logger = n.log
	g.Transport = n.opts.GossipTransport
	g.Admit = n.keys.Admit
	g.Side = n.keys.AnswerKeyRequest
	g.ProbeInterval = n.spec.Gossip.ProbeInterval
	g.Tune = n.opts.GossipTune
	db, err := gossip.New(g)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("gossip port %d is already in use (another meshnet?); set gossip.port: %w", g.BindPort, err)
		}
		return nil, fmt.Errorf("starting gossip on port %d: %w", g.BindPort, err)
	}
	n.db = db
	n.catalog = catalog.New(catalog.Config{Self: n.spec.Name, Gossip: db, Local: catalogLocal{n},
		Settle: settleRounds * n.spec.Gossip.Interval, Logger: n.log})
	n.keys.Attach(db, n.secure) // a nil secureTransport is a nil WireGuard
	n.cancelWatch = db.Watch(func(gossip.Event) { n.poke() })
	return n.leaveCluster, nil
}

// poke asks the reconciler to run soon; it never blocks.
func (n *Node) poke() {
	select {
	case n.dirty <- struct{}{}:
	default:
	}
}

// joinLoop joins the cluster through the seeds, retrying until one answers,
// so nodes may start in any order.
func (n *Node) joinLoop(ctx context.Context) {
	defer n.loops.Done()
	if len(n.join) == 0 {
		n.markJoined(true)
		n.reconnectLoop(ctx)
		return
	}
	backoff := 200 * time.Millisecond
	for {
		k, err := n.db.Join(n.join)
		if err == nil && k > 0 {
			n.log.Info("joined the cluster", "via", n.join, "answered", k)
			n.markJoined(false)
			n.reconnectLoop(ctx)
			return
		}
		// A member back after missing key rotations cannot be read by
		// anyone: fetch the keys sealed to it and try again at once.
		if n.keys.CatchUp(n.join) {
			continue
		}
		n.log.Warn("cannot reach any seed yet; retrying", "seeds", n.join, "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// reconnectInterval is how often a node tries to reach members it believes
// failed. Gossip stops talking to the dead after a while, so without this
// two halves of a long partition would never merge again.
const reconnectInterval = 10 * time.Second

// maxSeeds bounds the member addresses remembered for the next start.
const maxSeeds = 16

// reconnectLoop periodically tries to join failed members (and the seeds,
// when this node finds itself alone), merging healed partitions.
func (n *Node) reconnectLoop(ctx context.Context) {
	t := time.NewTicker(reconnectInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var addrs []string
		alive := 0
		for _, m := range n.db.Members() {
			switch m.State {
			case gossip.StateFailed:
				addrs = append(addrs, m.Addr.String())
			case gossip.StateAlive, gossip.StateSuspect:
				alive++
			}
		}
		if alive <= 1 {
			addrs = append(addrs, n.join...)
		}
		if len(addrs) == 0 {
			continue
		}
		k, err := n.db.Join(addrs)
		if (err != nil || k == 0) && n.keys.CatchUp(addrs) {
			k, err = n.db.Join(addrs)
		}
		if err == nil && k > 0 {
			n.log.Info("reconnected to members", "answered", k)
		}
	}
}

// rememberSeeds keeps the addresses of live members for the next start, so
// a restarted node finds its cluster without a join list. Called by the
// reconciler, which runs on every membership change; an empty list (this
// node alone) keeps the previous one.
func (n *Node) rememberSeeds() {
	var live []string
	for _, m := range n.db.Members() {
		if m.Name != n.spec.Name && (m.State == gossip.StateAlive || m.State == gossip.StateSuspect) && len(live) < maxSeeds {
			live = append(live, m.Addr.String())
		}
	}
	if len(live) == 0 {
		return
	}
	n.rec.seeds = live
}

// markJoined lets the node define networks from its config: at once when it
// starts a new cluster, otherwise only once it has had time to see the
// cluster's own definitions, which then win.
func (n *Node) markJoined(alone bool) {
	at := time.Now()
	if alone {
		at = at.Add(-time.Hour)
	}
	n.joinedAt.Store(&at)
	n.poke()
}

// discoverTimeout bounds how long a start waits for seeds to say where
// this node's packets come from.
const discoverTimeout = 1500 * time.Millisecond

// publicUnderlay asks the seeds, from the gossip port, where this node's
// packets come from. When they see another address than local, a NAT
// stands between, and theirs is the one members can send to: memberlist
// fixes the advertised address when it starts, so this is the moment.
// Without an answer the node keeps local.
func (n *Node) publicUnderlay(local netip.Addr) netip.Addr {
	var seeds []netip.AddrPort
	for _, s := range n.join {
		if ap, err := netip.ParseAddrPort(s); err == nil {
			seeds = append(seeds, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
		}
	}
	keys, primary := n.keys.GossipKeys()
	if len(seeds) == 0 || len(keys) == 0 {
		return local
	}
	bind := netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(n.spec.Gossip.Port))
	if local.Is6() {
		bind = netip.AddrPortFrom(netip.IPv6Unspecified(), uint16(n.spec.Gossip.Port))
	}
	obs, err := gossip.Discover(bind, netip.AddrPortFrom(local, uint16(n.spec.Gossip.Port)), keys, primary, seeds, 1, discoverTimeout)
	if err != nil {
		n.log.Warn("could not ask the seeds for this node's public address", "err", err)
		return local
	}
	for _, o := range obs {
		if a := o.Mapped.Addr(); a != local {
			n.log.Info("behind a NAT: advertising the address the seeds see", "local", local, "public", a, "seed", o.Observer)
			n.localUnderlay = local
			return a
		}
	}
	return local
}

// pickUnderlay decides the address peers send VXLAN and gossip to.
func (n *Node) pickUnderlay() (netip.Addr, error) {
	if n.opts.Underlay.IsValid() {
		return n.opts.Underlay.Addr(), nil
	}
	if n.spec.Underlay.IsValid() {
		return n.spec.Underlay, nil
	}
	for _, seed := range n.join {
		if a, ok := sourceTowards(seed); ok {
			return n.publicUnderlay(a), nil
		}
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return netip.Addr{}, err
	}
	var v6 netip.Addr
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			p, err := netip.ParsePrefix(a.String())
			if err != nil || !p.Addr().IsGlobalUnicast() {
				continue
			}
			if p.Addr().Is4() {
				return p.Addr(), nil
			}
			if !v6.IsValid() {
				v6 = p.Addr()
			}
		}
	}
	if v6.IsValid() {
		return v6, nil
	}
	return netip.Addr{}, errors.New("no underlay address found: set underlay.address in the config")
}
