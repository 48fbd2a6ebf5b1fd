package node

import (
	"errors"
	"net/netip"
	"time"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/lb"
	"meshnet.dev/meshnet/node/api"
	"meshnet.dev/meshnet/node/control"
	"meshnet.dev/meshnet/node/keysync"
	"meshnet.dev/meshnet/node/tables"
	"meshnet.dev/meshnet/routing"
)

// The node is the control API's control.Node: State copies what the API
// reports from the published view and the parts that are safe to read
// from any goroutine; the operations on networks and services go to the
// catalog, joining and leaving networks to the wanted set (wanted.go),
// the admin operations to key sync (keys_wiring.go). It is also the
// catalog's Local and, through metricsSource, the metrics' Source.

var _ control.Node = (*Node)(nil)

// State is the node as the control API and metrics report it.
func (n *Node) State() control.State {
	s := control.State{Ready: n.isReady(), Name: n.spec.Name, Mode: n.modeName()}
	if !s.Ready {
		return s
	}
	v := n.current()
	s.Underlay, s.GossipPort, s.Started = n.underlay, n.spec.Gossip.Port, n.started
	for _, nv := range v.nets {
		s.Networks = append(s.Networks, control.Network{Def: nv.def, Device: nv.device, MAC: nv.mac, MTU: nv.mtu,
			Addr: nv.addr, Stack: nv.stack, Stats: nv.stats})
	}
	s.Table = n.table.Snapshot()
	s.Drops = n.fwd.Drops().Map()
	for _, m := range n.db.Members() {
		if m.Name == n.spec.Name {
			continue
		}
		cm := control.Member{Member: m}
		cm.Meta, cm.MetaErr = tables.DecodeMeta(m.Meta)
		cm.RTT, _ = n.db.RTT(m.Name)
		cm.Skew, cm.HasSkew = n.db.ClockSkew(m.Name)
		cm.BehindNAT = n.db.PeerBehindNAT(m.Name)
		s.Members = append(s.Members, cm)
	}
	s.Static = v.static
	if n.secure != nil {
		s.WGPort = n.secure.LocalPort()
	}
	s.Report = v.report
	ks := n.keys.Status()
	s.Keys = api.Keys{Cluster: ks.Cluster.String(), PublicKey: ks.PublicKey.String(), Admin: ks.Admin,
		Epoch: ks.Epoch, Evicted: ks.Evicted, Rejected: ks.Rejected}
	s.Gossip = n.db.Stats()
	s.NAT = n.db.NAT()
	if n.secure != nil {
		s.WireGuard = []encap.WGPeerStats{} // there is WireGuard, even if its counters fail
		if st, err := n.secure.PeerStats(); err == nil {
			s.WireGuard = st
		}
	}
	return s
}

// Status reports the node, its networks and peers, their counters, and what
// the cluster disagrees about (GET /v1/status).
func (n *Node) Status() api.Status { return control.Status(n.State()) }

// Doctor runs the checks of GET /v1/doctor.
func (n *Node) Doctor() []api.Check { return control.Doctor(n) }

// Ping describes the path to target and measures it (POST /v1/ping).
func (n *Node) Ping(req api.PingRequest) (api.PingResult, error) { return control.Ping(n.State(), req) }

// Networks lists the networks the cluster defines (GET /v1/networks).
func (n *Node) Networks() []api.ClusterNetwork { return n.catalog.ListNetworks() }

// CreateNetwork defines a network cluster-wide (POST /v1/networks).
func (n *Node) CreateNetwork(req api.CreateNetwork) (api.ClusterNetwork, error) {
	return n.catalog.CreateNetwork(req)
}

// Services lists the cluster's services with their backends.
func (n *Node) Services() []api.Service { return n.catalog.ListServices() }

// CreateService defines a service on one of this node's networks.
func (n *Node) CreateService(req api.CreateService) (api.Service, error) {
	return n.catalog.CreateService(req)
}

// RemoveService removes a service from the cluster.
func (n *Node) RemoveService(name string) error { return n.catalog.RemoveService(name) }

// AddBackend registers a backend this node hosts.
func (n *Node) AddBackend(service, addr string) error { return n.catalog.AddBackend(service, addr) }

// RemoveBackend withdraws a backend this node registered.
func (n *Node) RemoveBackend(service, addr string) error {
	return n.catalog.RemoveBackend(service, addr)
}

// catalogLocal is what the catalog reads of this node.
type catalogLocal struct{ n *Node }

func (l catalogLocal) Attached(name string) (tables.NetDef, bool) {
	nv, ok := l.n.current().network(name)
	return nv.def, ok
}

func (l catalogLocal) Services() []lb.Service      { return l.n.current().services }
func (l catalogLocal) Backends() []lb.Backend      { return l.n.current().backends }
func (l catalogLocal) Snapshot() *routing.Snapshot { return l.n.table.Snapshot() }
func (l catalogLocal) Poke()                       { l.n.poke() }

// errNoWireGuard is ProbePeer's answer without an encrypted transport.
var errNoWireGuard = errors.New("no encrypted transport")

// ProbePeer makes a fresh WireGuard handshake with a peer (the doctor).
func (n *Node) ProbePeer(pub [32]byte, timeout time.Duration) (time.Duration, error) {
	p, ok := n.secure.(interface {
		ProbePeer(pub [32]byte, timeout time.Duration) (time.Duration, error)
	})
	if !ok {
		return 0, errNoWireGuard
	}
	return p.ProbePeer(pub, timeout)
}

// RouteMTU is the MTU of the route towards dst, or the underlay's.
func (n *Node) RouteMTU(dst netip.Addr) int {
	if v, err := n.links.RouteMTU(dst); err == nil && v > 0 {
		return v
	}
	return n.underlayMTU()
}

// adminErr marks keysync's refusal of an admin operation for the control
// API (403), keeping its message.
func adminErr(err error) error {
	if errors.Is(err, keysync.ErrNotAdmin) {
		return control.NotAllowed(err)
	}
	return err
}

// metricsSource is what metrics read of the node at each scrape.
type metricsSource struct{ n *Node }

func (m metricsSource) Status() (api.Status, bool) {
	if !m.n.isReady() {
		return api.Status{}, false
	}
	return m.n.Status(), true
}

func (m metricsSource) Gossip() gossip.Stats   { return m.n.db.Stats() }
func (m metricsSource) Balancer() lb.Stats     { return m.n.balancer.Stats() }
func (m metricsSource) Backends() []lb.Backend { return m.n.current().backends }

func (m metricsSource) DNS() (lb.DNSStats, bool) {
	if srv := m.n.dnsLive.Load(); srv != nil {
		return srv.Stats(), true
	}
	return lb.DNSStats{}, false
}
