package node

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/internal/packet"
	"meshnet.dev/meshnet/lb"
	"meshnet.dev/meshnet/routing"
	"meshnet.dev/meshnet/tun"

	"meshnet.dev/meshnet/node/catalog"
	"meshnet.dev/meshnet/node/config"
	"meshnet.dev/meshnet/node/endpoints"
	"meshnet.dev/meshnet/node/keysync"
	"meshnet.dev/meshnet/node/metrics"

	"meshnet.dev/meshnet/node/tables"
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
	// Secure is the encrypted transport; default WireGuard. Tests that set
	// Plain and leave Secure nil run without an encrypted transport.
	Secure secureTransport
	// Underlay overrides the address advertised for VXLAN (with Plain).
	Underlay netip.AddrPort
	// GossipTransport carries gossip in memory instead of over sockets.
	GossipTransport memberlist.NodeAwareTransport
	// GossipTune adjusts memberlist timings (tests).
	GossipTune func(*memberlist.Config)
	// SkipControl leaves out the state lock and control socket (in-process
	// tests).
	SkipControl bool
}

// DeviceSpec is what a network asks of its device.
type DeviceSpec struct {
	Name      string
	TUN       bool
	MAC       packet.MAC
	MTU       int
	Subnet    netip.Prefix
	Neighbors tun.Neighbors
}

// secureTransport is what the node needs of the encrypted transport.
type secureTransport interface {
	encap.Transport
	SetPeers([]encap.WGPeer) error
	RemovePeer(pub [32]byte) error
	SetPrivateKey(k encap.UAPIKey, vtep netip.Addr) error
	PeerStats() ([]encap.WGPeerStats, error)
	// Roamed reopens the sockets after this host's address changed and
	// tells peers at once where it went.
	Roamed() error
}

// Node is one running meshnet daemon.
//
// Goroutines and their state: New sets the first group and Run's start
// steps the second, before any goroutine that reads them starts; neither
// changes afterwards. The reconciler owns rec and publishes views of it
// (view.go). want is changed by the control API and Reload under its own
// lock, and so are the config's static peers; reloadMu serialises Reload with itself and with Run's stop steps.
type Node struct {
	// Set by New.
	boot    uint64 // random per start; see tables.Meta.Boot
	spec    *config.Spec
	opts    Options
	log     *slog.Logger
	level   *slog.LevelVar // nil when the caller supplied the logger
	links   tun.LinkManager
	table   *routing.Table
	ready   chan struct{} // closed once Run has set everything up
	dirty   chan struct{} // pokes the reconciler
	failed  chan error    // a part of the node stopped on its own
	learned chan routing.Learned
	stop    chan struct{} // closed by Shutdown
	stopped sync.Once

	// Set by Run's start steps.
	started  time.Time
	join     []string // gossip seeds: the config's, the token's and those remembered
	underlay netip.AddrPort
	// localUnderlay is this host's own address when a NAT stands between
	// it and the seeds, which see underlay instead; invalid otherwise.
	localUnderlay netip.Addr
	keys          *keysync.Keys
	plain         encap.Transport
	secure        secureTransport
	balancer      *lb.Balancer
	health        *lb.HealthChecker
	fwd           *routing.Forwarder
	db            *gossip.DB
	catalog       *catalog.Catalog
	cancelWatch   func()
	loops         sync.WaitGroup

	rec       reconciled                   // owned by the reconciler
	published atomic.Pointer[view]         // written by the reconciler only
	dnsLive   atomic.Pointer[lb.DNSServer] // the DNS server, for metrics
	joinedAt  atomic.Pointer[time.Time]    // set by the join loop
	want      wanted
	endpoints *endpoints.Registry // container endpoints; in memory until restore opens the state dir's
	static    configPeers         // the config's static peers; Reload replaces them

	reloadMu    sync.Mutex
	halted      bool            // Run is stopping: Reload refuses
	metrics     *metrics.Server // nil when off
	metricsAddr string
	rotation    time.Duration
}

// learnQueue bounds endpoint reports waiting to be published; the Forwarder
// retries reports that do not fit.
const learnQueue = 1024

// New validates cfg and prepares a node; nothing is created until Run.
func New(cfg config.Config, opts Options) (*Node, error) {
	s, err := cfg.Validate()
	if err != nil {
		return nil, err
	}
	var level *slog.LevelVar
	if opts.Logger == nil {
		level = levelVar(s.LogLevel)
		opts.Logger = NewLogger(os.Stderr, level, s.LogJSON)
	}
	n := &Node{
		boot:        bootID(),
		spec:        s,
		opts:        opts,
		log:         opts.Logger.With("node", s.Name),
		level:       level,
		links:       opts.Links,
		table:       routing.NewTable(),
		ready:       make(chan struct{}),
		dirty:       make(chan struct{}, 1),
		failed:      make(chan error, 1),
		learned:     make(chan routing.Learned, learnQueue),
		stop:        make(chan struct{}),
		join:        slices.Clone(s.Join),
		rec:         reconciled{nets: map[string]*attachment{}, prevBlocks: map[string]netip.Prefix{}},
		want:        wanted{nets: map[string]wantedNet{}},
		endpoints:   &endpoints.Registry{},
		metricsAddr: s.Metrics,
		rotation:    s.Rotation,
	}
	for _, ns := range s.Networks {
		n.want.nets[ns.Name] = wantedNet{NetworkSpec: ns}
	}
	n.static.set(s.Peers)
	if n.links == nil {
		n.links = tun.NewNetlink()
	}
	return n, nil
}

// Ready is closed once the node is fully up.
func (n *Node) Ready() <-chan struct{} { return n.ready }

// isReady reports whether Run has finished setting up.
func (n *Node) isReady() bool {
	select {
	case <-n.ready:
		return true
	default:
		return false
	}
}

// Name is the node's name.
func (n *Node) Name() string { return n.spec.Name }

// Table exposes the forwarding table (for status and tests).
func (n *Node) Table() *routing.Table { return n.table }

// Run starts the node step by step (steps), blocks until ctx is
// cancelled, Shutdown is called or a part fails, then stops the steps in
// reverse: devices, sockets and the control socket are gone when Run
// returns, and the node has left the cluster.
func (n *Node) Run(ctx context.Context) error {
	n.started = time.Now()
	var stops []func()
	defer func() {
		for _, stop := range slices.Backward(stops) {
			stop()
		}
	}()
	for _, start := range n.steps() {
		stop, err := start(ctx)
		if err != nil {
			return err
		}
		if stop != nil {
			stops = append(stops, stop)
		}
	}
	close(n.ready)
	n.log.Info("meshnet node up", "underlay", n.underlay, "gossip_port", n.spec.Gossip.Port,
		"mode", n.modeName(), "join", n.join)
	select {
	case <-ctx.Done():
		n.log.Info("shutting down")
		return nil
	case <-n.stop:
		n.log.Info("shutting down on request")
		return nil
	case err := <-n.failed:
		return err
	}
}

// leaveCluster tells the cluster this node is going (its entries are
// deleted everywhere) and stops gossip.
func (n *Node) leaveCluster() {
	n.cancelWatch()
	if err := n.db.Leave(n.spec.Gossip.LeaveTimeout); err != nil {
		n.log.Warn("leaving the cluster", "err", err)
		n.db.Shutdown()
	}
}

func (n *Node) modeName() string {
	if n.spec.Userspace {
		return "userspace"
	}
	if n.spec.TUN {
		return "tun"
	}
	return "tap"
}

// detachAll stops every network. It runs once the reconciler has stopped.
func (n *Node) detachAll() {
	n.stopUserspace() // before the stacks it uses go away
	nets := n.rec.nets
	n.rec.nets = map[string]*attachment{}
	n.publish()
	for _, a := range nets {
		n.detach(a)
	}
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

// learnLoop publishes endpoints learned behind local devices.
func (n *Node) learnLoop(ctx context.Context) {
	defer n.loops.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case l := <-n.learned:
			name, own := n.networkByVNI(l.VNI)
			if name == "" || (l.MAC == own && !l.IP.IsValid()) {
				continue // the node publishes its own interface itself
			}
			if err := n.db.Put(name, tables.Endpoints, tables.EndpointKey(l.MAC, l.IP), nil); err != nil {
				n.log.Warn("publishing learned endpoint", "network", name, "err", err)
				continue
			}
			n.log.Debug("learned local endpoint", "network", name, "mac", config.FormatMAC(l.MAC), "ip", l.IP)
			n.poke()
		}
	}
}

// networkByVNI returns the attached network with vni and this node's MAC
// on it.
func (n *Node) networkByVNI(vni uint32) (string, packet.MAC) {
	for _, nv := range n.current().nets {
		if nv.def.VNI == vni {
			return nv.def.Name, nv.mac
		}
	}
	return "", packet.MAC{}
}

// isDeviceClosed reports whether a port's Run ended because its device was
// closed on purpose.
func isDeviceClosed(err error) bool {
	return errors.Is(err, tun.ErrClosed) || errors.Is(err, os.ErrClosed)
}
