package control

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/internal/packet"
	"meshnet.dev/meshnet/node/api"
	"meshnet.dev/meshnet/node/tables"
	"meshnet.dev/meshnet/routing"
	"meshnet.dev/meshnet/tun"
)

// Node is what the control API needs of the running node: a State to
// report from, two live probes for the doctor, and the operations the API
// offers. The node implements it; tests use a fake.
type Node interface {
	// State is the node as it is now. It must be cheap: status calls it.
	State() State
	// ProbePeer makes a fresh WireGuard handshake with the peer whose
	// public key is pub and returns how long it took (the doctor).
	ProbePeer(pub [32]byte, timeout time.Duration) (time.Duration, error)
	// RouteMTU is the MTU of the route towards dst, or the underlay's if
	// the route's is unknown (the doctor's path MTU upper bound).
	RouteMTU(dst netip.Addr) int
	Operations
}

// Operations are what the API asks the node to do. Errors that wrap
// ErrConflict answer 409, those that wrap ErrNotAllowed 403, others 400.
type Operations interface {
	Shutdown()
	Networks() []api.ClusterNetwork
	CreateNetwork(api.CreateNetwork) (api.ClusterNetwork, error)
	JoinNetwork(name string, req api.JoinNetwork) error
	LeaveNetwork(name string) error
	Services() []api.Service
	CreateService(api.CreateService) (api.Service, error)
	RemoveService(name string) error
	AddBackend(service, addr string) error
	RemoveBackend(service, addr string) error
	IssueToken(ttl time.Duration) (api.Token, error)
	RotateKeys(nodeKey bool) error
	Evict(name string) error
	// AddEndpoint allocates and publishes a container endpoint, or
	// returns the one the container already has; it waits (within ctx)
	// for the node's address block to settle.
	AddEndpoint(ctx context.Context, network string, req api.EndpointRequest) (api.ContainerEndpoint, error)
	// RemoveEndpoint withdraws a container endpoint; an unknown one is
	// no error.
	RemoveEndpoint(network, containerID, ifname string) error
	// Endpoints lists a network's endpoints and this node's containers.
	Endpoints(network string) (api.NetworkEndpoints, error)
}

var (
	// ErrConflict marks a definition that conflicts with an existing one.
	ErrConflict = errors.New("conflict")
	// ErrNotAllowed marks an operation this node may not do, such as an
	// admin operation on a node without the admin key.
	ErrNotAllowed = errors.New("not allowed")
)

// NotAllowed marks err as an operation this node may not do (see
// ErrNotAllowed), keeping its message.
func NotAllowed(err error) error { return notAllowed{err} }

type notAllowed struct{ error }

func (e notAllowed) Unwrap() []error { return []error{e.error, ErrNotAllowed} }

// State is the node as the control API reports it: values and snapshots
// the node copied for this call, except the live counters (Stats) and
// stacks, which are safe to use from any goroutine.
type State struct {
	Ready      bool // false: the node is starting, only the fields up to Mode are set
	Name       string
	Mode       string // "tap", "tun" or "userspace"
	Underlay   netip.AddrPort
	GossipPort int
	Started    time.Time
	Networks   []Network // attached networks, sorted by name
	Table      *routing.Snapshot
	Drops      map[string]uint64   // drops before a network, by reason
	Members    []Member            // gossip members but this node
	Static     []tables.StaticPeer // the cluster's static peers, resolved
	WGPort     uint16              // this node's WireGuard port; 0 without WireGuard
	Report     Report
	Keys       api.Keys
	Gossip     gossip.Stats
	NAT        gossip.NATReport
	// WireGuard holds the encrypted transport's peer counters; nil
	// without one.
	WireGuard []encap.WGPeerStats
}

// Network is an attached network.
type Network struct {
	Def    tables.NetDef
	Device string
	MAC    packet.MAC
	MTU    int
	Addr   netip.Addr         // invalid until assigned
	Stack  *tun.Netstack      // netstack mode: the network's stack once the address is settled
	Stats  *routing.PortStats // live counters; nil without a port
}

// Member is a gossip member with what the node knows of it.
type Member struct {
	gossip.Member
	Meta    tables.Meta // valid when MetaErr is nil
	MetaErr error
	RTT     time.Duration // network coordinates estimate; 0 if unknown
	Skew    time.Duration // clock difference, when HasSkew
	HasSkew bool
	// BehindNAT: the member says a NAT stands between it and the rest.
	BehindNAT bool
}

// Report is what the reconciler's last pass found that people should know
// about.
type Report struct {
	Conflicts  []string // network definitions that lost
	Duplicates []tables.Duplicate
	Waiting    []string // wanted networks nobody has defined yet
	Keyless    []string // wanted encrypted networks held back until keys arrive
	Static     []string // static peers and endpoints left out, and why
}

// wireGuard returns the WireGuard counters of pub.
func (s *State) wireGuard(pub [32]byte) (encap.WGPeerStats, bool) {
	for _, w := range s.WireGuard {
		if w.PublicKey == pub {
			return w, true
		}
	}
	return encap.WGPeerStats{}, false
}
