package routing

import (
	"cmp"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"meshnet.dev/meshnet/internal/packet"
)

// PeerConfig describes a remote node.
type PeerConfig struct {
	Name     string
	Underlay netip.AddrPort
	VTEP     netip.AddrPort
}

// NetworkConfig describes a network this node forwards for.
type NetworkConfig struct {
	Name      string
	VNI       uint32
	Subnets   []netip.Prefix
	Encrypted bool
}

// Table is the writable forwarding state. Writers batch changes in Update;
// each Update publishes one new Snapshot. Readers call Snapshot and never
// block writers.
type Table struct {
	mu       sync.Mutex // serialises writers; readers never take it
	peers    map[string]*peerState
	networks map[uint32]*netState
	snap     atomic.Pointer[Snapshot]
}

type peerState struct {
	cfg   PeerConfig
	stats *PeerStats
}

type epKey struct {
	mac packet.MAC
	ip  netip.Addr
}

type netState struct {
	cfg       NetworkConfig
	members   map[string]struct{}
	endpoints map[epKey]string // → owning node, "" for local
	built     *Network
}

// NewTable returns an empty table.
func NewTable() *Table {
	t := &Table{peers: map[string]*peerState{}, networks: map[uint32]*netState{}}
	t.snap.Store(t.build(nil, true))
	return t
}

// Snapshot returns the current immutable view.
func (t *Table) Snapshot() *Snapshot { return t.snap.Load() }

// EndpointMAC returns the MAC of the endpoint, local or remote, that holds
// ip on network vni, from the current snapshot (the service balancer's
// lb.MACResolver). It takes no lock and does not allocate.
func (t *Table) EndpointMAC(vni uint32, ip netip.Addr) (packet.MAC, bool) {
	n := t.Snapshot().Network(vni)
	if n == nil {
		return packet.MAC{}, false
	}
	mac, _, ok := n.LookupIP(ip)
	return mac, ok
}

// Update applies fn's changes and publishes them as one snapshot.
func (t *Table) Update(fn func(tx *Tx)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tx := &Tx{t: t, dirty: map[uint32]bool{}}
	fn(tx)
	if tx.peersChanged || len(tx.dirty) > 0 {
		t.snap.Store(t.build(tx.dirty, tx.peersChanged))
	}
}

// Tx is a batch of changes to a Table; it is valid only inside Update.
type Tx struct {
	t            *Table
	dirty        map[uint32]bool
	peersChanged bool
}

// SetPeer adds or updates a peer.
func (tx *Tx) SetPeer(c PeerConfig) {
	if p, ok := tx.t.peers[c.Name]; ok {
		if p.cfg == c {
			return
		}
		p.cfg = c
	} else {
		tx.t.peers[c.Name] = &peerState{cfg: c, stats: new(PeerStats)}
	}
	tx.peersChanged = true
}

// RemovePeer forgets a peer; its endpoints and memberships stay in the table
// but are not used until the peer returns.
func (tx *Tx) RemovePeer(name string) {
	if _, ok := tx.t.peers[name]; ok {
		delete(tx.t.peers, name)
		tx.peersChanged = true
	}
}

// SetNetwork adds a network or changes its settings.
func (tx *Tx) SetNetwork(c NetworkConfig) {
	c.Subnets = slices.Clone(c.Subnets)
	if n, ok := tx.t.networks[c.VNI]; ok {
		if n.cfg.Name == c.Name && n.cfg.Encrypted == c.Encrypted && slices.Equal(n.cfg.Subnets, c.Subnets) {
			return
		}
		n.cfg = c
	} else {
		tx.t.networks[c.VNI] = &netState{cfg: c, members: map[string]struct{}{}, endpoints: map[epKey]string{}}
	}
	tx.dirty[c.VNI] = true
}

// RemoveNetwork drops a network and everything in it.
func (tx *Tx) RemoveNetwork(vni uint32) {
	if _, ok := tx.t.networks[vni]; ok {
		delete(tx.t.networks, vni)
		tx.dirty[vni] = true
	}
}

// SetMember records whether peer joined network vni.
func (tx *Tx) SetMember(vni uint32, peer string, member bool) {
	n := tx.t.networks[vni]
	if n == nil {
		return
	}
	if _, was := n.members[peer]; was == member {
		return
	}
	if member {
		n.members[peer] = struct{}{}
	} else {
		delete(n.members, peer)
	}
	tx.dirty[vni] = true
}

// SetEndpoint records that (ip, mac) lives behind node ("" for this node).
// ip may be invalid for an endpoint known only by its MAC.
func (tx *Tx) SetEndpoint(vni uint32, e Endpoint) {
	n := tx.t.networks[vni]
	if n == nil {
		return
	}
	k := epKey{e.MAC, e.IP}
	if old, ok := n.endpoints[k]; ok && old == e.Node {
		return
	}
	n.endpoints[k] = e.Node
	tx.dirty[vni] = true
}

// RemoveEndpoint forgets (ip, mac) on network vni.
func (tx *Tx) RemoveEndpoint(vni uint32, mac packet.MAC, ip netip.Addr) {
	n := tx.t.networks[vni]
	if n == nil {
		return
	}
	k := epKey{mac, ip}
	if _, ok := n.endpoints[k]; ok {
		delete(n.endpoints, k)
		tx.dirty[vni] = true
	}
}

// HasNetwork reports whether network vni exists in the table.
func (tx *Tx) HasNetwork(vni uint32) bool { return tx.t.networks[vni] != nil }

// build makes a snapshot, rebuilding only the networks that changed unless
// the peer set changed (every network points at peers).
func (t *Table) build(dirty map[uint32]bool, all bool) *Snapshot {
	s := &Snapshot{
		networks:   make(map[uint32]*Network, len(t.networks)),
		byName:     make(map[string]*Peer, len(t.peers)),
		byUnderlay: map[netip.Addr]*Peer{},
		byVTEP:     map[netip.Addr]*Peer{},
	}
	if old := t.snap.Load(); old != nil && !all {
		s.peers, s.byName, s.byUnderlay, s.byVTEP = old.peers, old.byName, old.byUnderlay, old.byVTEP
	} else {
		t.buildPeers(s)
	}
	for vni, n := range t.networks {
		if n.built == nil || all || dirty[vni] {
			n.built = n.build(s)
		}
		s.networks[vni] = n.built
	}
	return s
}

func (t *Table) buildPeers(s *Snapshot) {
	for _, p := range t.peers {
		s.peers = append(s.peers, &Peer{Name: p.cfg.Name, Underlay: p.cfg.Underlay, VTEP: p.cfg.VTEP, Stats: p.stats})
	}
	slices.SortFunc(s.peers, func(a, b *Peer) int { return cmp.Compare(a.Name, b.Name) })
	for i, p := range s.peers {
		p.index = i
		s.byName[p.Name] = p
		if p.Underlay.IsValid() {
			s.byUnderlay[p.Underlay.Addr().Unmap()] = p
		}
		if p.VTEP.IsValid() {
			s.byVTEP[p.VTEP.Addr()] = p
		}
	}
}

func (n *netState) build(s *Snapshot) *Network {
	out := &Network{
		Name: n.cfg.Name, VNI: n.cfg.VNI, Subnets: n.cfg.Subnets, Encrypted: n.cfg.Encrypted,
		member: make([]bool, len(s.peers)),
		byMAC:  map[packet.MAC]*Peer{},
		local:  map[packet.MAC]struct{}{},
		byIP:   map[netip.Addr]ipEntry{},
	}
	for name := range n.members {
		if p := s.byName[name]; p != nil {
			out.member[p.index] = true
			out.Members = append(out.Members, p)
		}
	}
	slices.SortFunc(out.Members, func(a, b *Peer) int { return cmp.Compare(a.index, b.index) })
	for k, node := range n.endpoints {
		var p *Peer
		if node != "" {
			if p = s.byName[node]; p == nil {
				continue // nowhere to send it until the node is known
			}
			out.byMAC[k.mac] = p
		} else {
			out.local[k.mac] = struct{}{}
		}
		if k.ip.IsValid() {
			out.byIP[k.ip] = ipEntry{mac: k.mac, peer: p}
		}
		out.eps = append(out.eps, Endpoint{MAC: k.mac, IP: k.ip, Node: node})
	}
	slices.SortFunc(out.eps, func(a, b Endpoint) int {
		return cmp.Or(a.IP.Compare(b.IP), slices.Compare(a.MAC[:], b.MAC[:]), cmp.Compare(a.Node, b.Node))
	})
	return out
}

func sortNetworks(ns []*Network) {
	slices.SortFunc(ns, func(a, b *Network) int { return cmp.Compare(a.VNI, b.VNI) })
}
