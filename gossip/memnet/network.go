// Package memnet is an in-memory network for memberlist, for tests and the
// gossip scale simulator. Every node gets a Transport with its own address;
// the Network between them can add per-link latency and loss, drop the
// packets a filter picks, partition sets of nodes from each other, and
// crash a node (a black hole: nothing reaches it or leaves it). It counts
// packets and bytes per node.
//
// It uses no sockets and only the time package for delays, so it runs
// inside testing/synctest bubbles, where its delays take no real time.
// Packets are delivered into a bounded queue per node and dropped when it is
// full, as a UDP socket buffer would. Streams are net.Pipe pairs: they get
// the link's latency once, when opened, and fail when the link is cut.
package memnet

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

const (
	// packetQueueLen is how many packets wait for a node before more are
	// dropped.
	packetQueueLen = 4096
	// streamQueueLen is how many opened streams wait to be accepted.
	streamQueueLen = 128
	// Port is the port of every address.
	Port = 7946
)

// Network connects Transports.
type Network struct {
	mu       sync.Mutex
	rng      *rand.Rand
	latency  func(from, to string) time.Duration
	loss     func(from, to string) float64
	filter   func(from, to string, packet []byte) bool
	blocked  map[link]bool
	crashed  map[string]bool
	byAddr   map[string]*Transport
	counters map[string]*counters
	nextHost uint32
}

type link struct{ a, b string }

func newLink(a, b string) link {
	if a > b {
		a, b = b, a
	}
	return link{a, b}
}

// New returns an empty network; seed makes loss decisions reproducible.
func New(seed uint64) *Network {
	return &Network{
		rng:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		blocked:  make(map[link]bool),
		crashed:  make(map[string]bool),
		byAddr:   make(map[string]*Transport),
		counters: make(map[string]*counters),
	}
}

// SetLatency sets the one-way delay of every packet, by node names; nil
// means none.
func (n *Network) SetLatency(f func(from, to string) time.Duration) {
	n.mu.Lock()
	n.latency = f
	n.mu.Unlock()
}

// SetLoss sets the probability that a packet from one node to another is
// lost; nil means none. Streams are not affected (they retransmit).
func (n *Network) SetLoss(f func(from, to string) float64) {
	n.mu.Lock()
	n.loss = f
	n.mu.Unlock()
}

// SetFilter sets a filter that every packet passes before it is sent:
// those for which it returns false are lost (a test losing particular
// messages); nil passes all. Streams are not filtered. f is called without
// the network's lock, from the sending goroutine, and must not keep packet.
func (n *Network) SetFilter(f func(from, to string, packet []byte) bool) {
	n.mu.Lock()
	n.filter = f
	n.mu.Unlock()
}

// passes reports whether the filter lets a packet through.
func (n *Network) passes(from, to string, packet []byte) bool {
	n.mu.Lock()
	f := n.filter
	n.mu.Unlock()
	return f == nil || f(from, to, packet)
}

// Partition cuts every link between a node in a and a node in b, both
// ways, packets and streams. Links within a or within b are untouched.
func (n *Network) Partition(a, b []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, x := range a {
		for _, y := range b {
			n.blocked[newLink(x, y)] = true
		}
	}
}

// Heal removes every partition.
func (n *Network) Heal() {
	n.mu.Lock()
	n.blocked = make(map[link]bool)
	n.mu.Unlock()
}

// Crash makes node a black hole until Revive: nothing it sends arrives and
// nothing reaches it. The node itself keeps running.
func (n *Network) Crash(name string) {
	n.mu.Lock()
	n.crashed[name] = true
	n.mu.Unlock()
}

// Revive undoes Crash.
func (n *Network) Revive(name string) {
	n.mu.Lock()
	delete(n.crashed, name)
	n.mu.Unlock()
}

// NewTransport returns a transport for node name at a fresh address. A
// node that restarts gets a new transport (and address); the counters of a
// name accumulate over all its transports.
func (n *Network) NewTransport(name string) *Transport {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.nextHost++
	h := n.nextHost
	addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(h >> 16), byte(h >> 8), byte(h)}), Port)
	t := &Transport{
		net:      n,
		name:     name,
		addr:     addr,
		packetCh: make(chan *memberlist.Packet, packetQueueLen),
		streamCh: make(chan net.Conn, streamQueueLen),
		done:     make(chan struct{}),
	}
	n.byAddr[addr.String()] = t
	if n.counters[name] == nil {
		n.counters[name] = &counters{}
	}
	t.counters = n.counters[name]
	return t
}

// reachable reports whether from can currently reach to. Must hold n.mu.
func (n *Network) reachableLocked(from, to string) bool {
	return !n.crashed[from] && !n.crashed[to] && !n.blocked[newLink(from, to)]
}

func (n *Network) reachable(from, to string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.reachableLocked(from, to)
}

// route decides a packet's fate: its destination and delay, or nil if it
// is lost.
func (n *Network) route(from string, addr string, name string) (*Transport, time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	dest := n.byAddr[addr]
	if dest == nil || (name != "" && dest.name != name) || !n.reachableLocked(from, dest.name) {
		return nil, 0
	}
	if n.loss != nil && n.rng.Float64() < n.loss(from, dest.name) {
		return nil, 0
	}
	var d time.Duration
	if n.latency != nil {
		d = n.latency(from, dest.name)
	}
	return dest, d
}

func (n *Network) delay(from, to string) time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.latency == nil {
		return 0
	}
	return n.latency(from, to)
}

func (n *Network) lookup(addr string) *Transport {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.byAddr[addr]
}

func (n *Network) forget(t *Transport) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.byAddr[t.addr.String()] == t {
		delete(n.byAddr, t.addr.String())
	}
}

// Counters returns a snapshot of node name's counters.
func (n *Network) Counters(name string) Counters {
	n.mu.Lock()
	c := n.counters[name]
	n.mu.Unlock()
	if c == nil {
		return Counters{}
	}
	return c.snapshot()
}
