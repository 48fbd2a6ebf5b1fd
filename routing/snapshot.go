package routing

import (
	"net/netip"
	"sync/atomic"

	"meshnet.dev/meshnet/internal/packet"
)

// Peer is a remote node as the data path sees it. Peers in a Snapshot are
// immutable; Stats is shared by every snapshot the peer appears in.
type Peer struct {
	Name string
	// Underlay is where plain VXLAN for this peer goes.
	Underlay netip.AddrPort
	// VTEP is where encrypted VXLAN for this peer goes: its address inside
	// the secure transport. Invalid if the peer has no secure path.
	VTEP  netip.AddrPort
	Stats *PeerStats

	index int // dense position in Snapshot.peers, for per-peer scratch
}

// PeerStats counts the data-path traffic exchanged with one peer.
type PeerStats struct {
	TxPackets, TxBytes, RxPackets, RxBytes atomic.Uint64
}

// Endpoint is an (IP, MAC) pair on a network and the node it lives behind.
type Endpoint struct {
	MAC packet.MAC
	IP  netip.Addr // invalid when only the MAC is known
	// Node is the owning node's name; empty for this node's own endpoints.
	Node string
}

// Network is the immutable forwarding state of one network (VNI).
type Network struct {
	Name      string
	VNI       uint32
	Subnets   []netip.Prefix
	Encrypted bool
	// Members are the remote nodes that joined the network: the targets of
	// broadcast and multicast replication.
	Members []*Peer

	member []bool // by Peer.index
	byMAC  map[packet.MAC]*Peer
	local  map[packet.MAC]struct{}
	byIP   map[netip.Addr]ipEntry
	eps    []Endpoint
}

type ipEntry struct {
	mac  packet.MAC
	peer *Peer // nil: local
}

// LookupMAC returns the peer a MAC lives behind; local reports an endpoint
// behind this node. ok is false for unknown MACs.
func (n *Network) LookupMAC(m packet.MAC) (p *Peer, local, ok bool) {
	if _, ok := n.local[m]; ok {
		return nil, true, true
	}
	p, ok = n.byMAC[m]
	return p, false, ok
}

// LookupIP returns the MAC of the endpoint holding ip and the peer it lives
// behind (nil for local endpoints).
func (n *Network) LookupIP(ip netip.Addr) (m packet.MAC, p *Peer, ok bool) {
	e, ok := n.byIP[ip]
	return e.mac, e.peer, ok
}

// IsMember reports whether p joined this network.
func (n *Network) IsMember(p *Peer) bool {
	return p != nil && p.index < len(n.member) && n.member[p.index]
}

// Contains reports whether ip is inside one of the network's subnets.
func (n *Network) Contains(ip netip.Addr) bool {
	for _, s := range n.Subnets {
		if s.Contains(ip) {
			return true
		}
	}
	return false
}

// Endpoints lists the network's endpoints, local ones included, sorted.
func (n *Network) Endpoints() []Endpoint { return n.eps }

// Snapshot is an immutable view of every network and peer. The Forwarder
// loads one per batch.
type Snapshot struct {
	networks   map[uint32]*Network
	peers      []*Peer
	byName     map[string]*Peer
	byUnderlay map[netip.Addr]*Peer
	byVTEP     map[netip.Addr]*Peer
}

// Network returns the network with vni, or nil.
func (s *Snapshot) Network(vni uint32) *Network { return s.networks[vni] }

// Networks lists all networks in VNI order.
func (s *Snapshot) Networks() []*Network {
	out := make([]*Network, 0, len(s.networks))
	for _, n := range s.networks {
		out = append(out, n)
	}
	sortNetworks(out)
	return out
}

// Peers lists all peers in name order.
func (s *Snapshot) Peers() []*Peer { return s.peers }

// Peer returns the peer called name, or nil.
func (s *Snapshot) Peer(name string) *Peer { return s.byName[name] }

// PeerByUnderlay returns the peer whose underlay address is a.
func (s *Snapshot) PeerByUnderlay(a netip.Addr) *Peer { return s.byUnderlay[a] }

// PeerByVTEP returns the peer whose secure-transport address is a.
func (s *Snapshot) PeerByVTEP(a netip.Addr) *Peer { return s.byVTEP[a] }
