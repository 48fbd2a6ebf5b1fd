package lb

// The data-path hook. The Forwarder calls
//
//	Outbound(vni, frame)  for every frame a local endpoint sends, and
//	Inbound(vni, frame)   for every frame about to be delivered to a local
//	                      endpoint (from a peer or switched locally),
//
// from any number of goroutines. Both work in place on the Ethernet frame.
//
//	client ─▶ Outbound: dst is VIP:port? ─▶ conntrack hit, or Maglev pick
//	          and insert ─▶ DNAT dst to backend, dst MAC to the backend's
//	backend ─▶ Inbound: reply tuple tracked? ─▶ SNAT src back to VIP:port,
//	          src MAC to ServiceMAC
//
// Locking: the service state is an immutable snapshot behind an
// atomic.Pointer, replaced whole by Update; the only locks on the path are
// the conntrack shard mutexes. Nothing on the path allocates.
//
// Flows keep their backend for their lifetime, while other backends come
// and go and even while their own backend is marked unhealthy (a failed
// check need not mean its established connections are broken, and moving
// them would break them for sure). Only a flow whose backend has been
// removed from the service is re-balanced on its next packet: a TCP peer
// then gets a reset from the new backend at once instead of waiting out a
// black hole, and UDP flows simply carry on elsewhere. Backends of a failed
// node are removed with the node, so their flows move.

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"meshnet.dev/meshnet/internal/packet"
)

// MACResolver finds the MAC address of an endpoint on a network: the
// forwarding table (routing.Table implements it). It must be safe for
// concurrent use and should not allocate.
type MACResolver interface {
	EndpointMAC(vni uint32, ip netip.Addr) (packet.MAC, bool)
}

// Balancer is the Forwarder's hook.
var _ packet.Hook = (*Balancer)(nil)

// BalancerConfig configures a Balancer.
type BalancerConfig struct {
	// ConntrackSize bounds the number of tracked flows; when full, expired
	// flows are reused first, then the least recently used are evicted.
	ConntrackSize int
	// MaglevSize is each service's lookup table size, a prime. Larger
	// tables spread load more evenly over many backends.
	MaglevSize int
	// MACs resolves backend MAC addresses. Required.
	MACs MACResolver
	// Now tells the time that drives flow expiry; nil means time.Now.
	// Tests pass a manual clock's.
	Now func() time.Time
}

// DefaultBalancerConfig returns the defaults; the caller sets MACs.
func DefaultBalancerConfig() BalancerConfig {
	return BalancerConfig{
		ConntrackSize: DefaultConntrackSize, // Linux's default for a small host
		MaglevSize:    DefaultMaglevSize,    // the Maglev paper's choice
	}
}

// Balancer load-balances traffic to service VIPs. It is safe for concurrent
// use and owns no goroutines.
//
// Flows keep their backend for their lifetime: adding, removing or failing
// other backends does not move them, and neither does their own backend
// turning unhealthy. A flow whose backend has been removed from the
// service is balanced afresh on its next packet.
type Balancer struct {
	macs  MACResolver
	clock func() time.Time
	base  time.Time
	mgSz  int

	updateMu sync.Mutex // serialises Update
	snap     atomic.Pointer[snapshot]
	ct       *conntrack
	stats    counters
}

// NewBalancer returns a balancer with no services.
func NewBalancer(cfg BalancerConfig) (*Balancer, error) {
	if cfg.MACs == nil {
		return nil, errors.New("balancer: MACs is nil: pass the routing layer's neighbour table")
	}
	if cfg.ConntrackSize < 1 || cfg.ConntrackSize > MaxConntrackSize {
		return nil, fmt.Errorf("balancer: conntrack size %d is out of range: use 1-%d", cfg.ConntrackSize, MaxConntrackSize)
	}
	if err := checkMaglevSize(cfg.MaglevSize); err != nil {
		return nil, fmt.Errorf("balancer: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	var seed [8]byte
	_, _ = rand.Read(seed[:]) // never fails on Linux; a zero seed only weakens hashing
	b := &Balancer{
		macs:  cfg.MACs,
		clock: cfg.Now,
		base:  cfg.Now(),
		mgSz:  cfg.MaglevSize,
		ct:    newConntrack(cfg.ConntrackSize, binary.LittleEndian.Uint64(seed[:])),
	}
	b.snap.Store(&snapshot{})
	return b, nil
}

// Update replaces the service and backend state (all of it, as gossip
// currently has it). Invalid or conflicting entries are left out and
// described in the returned error; everything else takes effect at once.
// Tracked flows keep their backends while those remain in the service.
func (b *Balancer) Update(services []Service, backends []Backend) error {
	b.updateMu.Lock()
	defer b.updateMu.Unlock()
	snap, err := buildSnapshot(services, backends, b.mgSz, b.snap.Load())
	b.snap.Store(snap)
	if err != nil {
		return fmt.Errorf("balancer: some services or backends were left out: %w", err)
	}
	return nil
}

// LookupVIP reports whether ip is a service VIP on network vni and returns
// the MAC proxy ARP/ND answers with for it, ServiceMAC(vni).
func (b *Balancer) LookupVIP(vni uint32, ip netip.Addr) (packet.MAC, bool) {
	if _, ok := b.snap.Load().vips[vipKey{vni, ip}]; !ok {
		return packet.MAC{}, false
	}
	return ServiceMAC(vni), true
}

// Sweep reclaims expired flows. The data path reclaims them lazily too;
// calling Sweep every few seconds keeps Stats().Flows honest.
func (b *Balancer) Sweep() { b.ct.sweep(b.now()) }

// Stats returns the current counters.
func (b *Balancer) Stats() Stats {
	s := Stats{
		Flows:     b.ct.len(),
		Evictions: b.ct.evictions.Load(),
		DNATed:    b.stats.dnat.Load(),
		SNATed:    b.stats.snat.Load(),
		Reused:    b.stats.reused.Load(),
	}
	for i := range s.Drops {
		s.Drops[i] = b.stats.drops[i].Load()
	}
	return s
}

func (b *Balancer) now() int64 { return int64(b.clock().Sub(b.base)) }

func (b *Balancer) drop(r DropReason) packet.Verdict {
	b.stats.drops[r].Add(1)
	return packet.Drop
}

// Outbound translates a frame a local endpoint sent to a VIP service port:
// it picks the flow's backend (the tracked one, or Maglev's choice on the
// 5-tuple for a new flow), rewrites the destination IP and port to it and
// the destination MAC to the backend's. ICMP echo requests to a VIP are
// balanced the same way, the identifier playing the port, so ping works.
// Frames not addressed to a VIP pass untouched; frames to a VIP that cannot
// be served are dropped and counted. frame is the Ethernet frame and is
// changed in place.
func (b *Balancer) Outbound(vni uint32, frame []byte) packet.Verdict {
	snap := b.snap.Load()
	if len(snap.vips) == 0 {
		return packet.Pass
	}
	ip, ok := ipPayload(frame)
	if !ok {
		return packet.Pass
	}
	dst, ok := peekDst(ip)
	if !ok {
		return packet.Pass
	}
	svc := snap.vips[vipKey{vni, dst}]
	if svc == nil {
		if b.ct.live.Load() > 0 {
			b.forgetReused(vni, ip)
		}
		return packet.Pass
	}
	var p ipPacket
	if err := parseIP(ip, &p); err != nil {
		return b.drop(DropMalformed)
	}
	switch {
	case p.fragment:
		return b.drop(DropFragment)
	case !p.hasPorts:
		return b.drop(DropNoPort)
	case p.proto == ProtoICMP || p.proto == ProtoICMPv6:
		if !isEchoRequest(p.proto, p.icmpType) {
			return b.drop(DropNoPort)
		}
	case !svc.svc.HasPort(p.dst.Port(), p.proto):
		return b.drop(DropNoPort)
	}

	k := FlowKey{VNI: vni, Proto: p.proto, Src: p.src, Dst: p.dst}
	now := b.now()
	backend, found := b.ct.outbound(&k, p.tcpFlags, now)
	if found && !svc.hasBackend(backend, p.proto) {
		b.ct.remove(&k) // its backend is gone: balance the flow afresh
		found = false
	}
	if !found {
		idx := svc.table.Lookup(FlowHash(p.proto, p.src, p.dst))
		if idx < 0 {
			return b.drop(DropNoBackend)
		}
		be := &svc.healthy[idx]
		port := p.dst.Port() // ICMP echo keeps its identifier
		if p.proto == ProtoTCP || p.proto == ProtoUDP {
			port = be.TargetPort(port)
		}
		picked := netip.AddrPortFrom(be.Addr.Addr(), port)
		if _, ok := b.macs.EndpointMAC(vni, picked.Addr()); !ok {
			return b.drop(DropNoMAC) // do not track a flow we cannot deliver
		}
		var err error
		// insert returns another packet's pick if that one won a race.
		if backend, err = b.ct.insert(&k, picked, p.tcpFlags, now); err != nil {
			return b.drop(DropTupleClash)
		}
	}
	mac, ok := b.macs.EndpointMAC(vni, backend.Addr())
	if !ok {
		return b.drop(DropNoMAC)
	}
	rewrite(ip, &p, true, backend)
	copy(frame[0:6], mac[:])
	b.stats.dnat.Add(1)
	return packet.Pass
}

// forgetReused drops a tracked VIP flow when the client opens a direct TCP
// connection to the backend from the same port: both would get replies from
// backend:port to client:port, and those can no longer be told apart. The
// client's kernel reuses ports once a connection is closed, long before a
// closed flow's tracking expires, so without this the new connection's
// replies would be rewritten to the VIP and reset.
func (b *Balancer) forgetReused(vni uint32, ip []byte) {
	var p ipPacket
	if parseIP(ip, &p) != nil || p.proto != ProtoTCP || p.tcpFlags&(tcpSYN|tcpACK) != tcpSYN {
		return
	}
	rk := FlowKey{VNI: vni, Proto: ProtoTCP, Src: p.dst, Dst: p.src}
	if b.ct.forgetReply(&rk) {
		b.stats.reused.Add(1)
	}
}

// Inbound translates a backend's reply to a tracked flow back: the source
// becomes the VIP and service port the client talked to, the source MAC
// ServiceMAC(vni). Other frames pass untouched.
func (b *Balancer) Inbound(vni uint32, frame []byte) packet.Verdict {
	if b.ct.live.Load() == 0 {
		return packet.Pass
	}
	ip, ok := ipPayload(frame)
	if !ok {
		return packet.Pass
	}
	var p ipPacket
	if parseIP(ip, &p) != nil || !p.hasPorts {
		return packet.Pass // not a reply we could have tracked
	}
	if (p.proto == ProtoICMP || p.proto == ProtoICMPv6) && isEchoRequest(p.proto, p.icmpType) {
		return packet.Pass
	}
	k := FlowKey{VNI: vni, Proto: p.proto, Src: p.src, Dst: p.dst}
	vip, ok := b.ct.inbound(&k, p.tcpFlags, b.now())
	if !ok {
		return packet.Pass
	}
	rewrite(ip, &p, false, vip)
	mac := ServiceMAC(vni)
	copy(frame[6:12], mac[:])
	b.stats.snat.Add(1)
	return packet.Pass
}

// ipPayload returns the IP packet inside an untagged Ethernet frame.
func ipPayload(frame []byte) ([]byte, bool) {
	if len(frame) <= packet.EthHeaderLen {
		return nil, false
	}
	switch packet.EtherType(frame) {
	case packet.EtherTypeIPv4, packet.EtherTypeIPv6:
		return frame[packet.EthHeaderLen:], true
	}
	return nil, false
}

// peekDst reads the destination address without parsing the rest, so
// frames not addressed to a VIP cost one map lookup.
func peekDst(ip []byte) (netip.Addr, bool) {
	switch ip[0] >> 4 {
	case 4:
		if len(ip) >= packet.IPv4MinHeaderLen {
			return netip.AddrFrom4([4]byte(ip[16:20])), true
		}
	case 6:
		if len(ip) >= packet.IPv6HeaderLen {
			return netip.AddrFrom16([16]byte(ip[24:40])), true
		}
	}
	return netip.Addr{}, false
}
