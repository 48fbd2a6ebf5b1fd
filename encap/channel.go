package encap

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
)

const (
	// channelBatchSize is the channel transport's BatchSize, the same as the
	// UDP bind's so code under test sees realistic batches.
	channelBatchSize = 128
	// channelQueueLen bounds the packets waiting for one transport's
	// receiver; more are dropped, like a full socket buffer.
	channelQueueLen = 4096
	// channelMinBuf is the smallest packet buffer the network allocates, so
	// pooled buffers fit typical frames.
	channelMinBuf = Headroom + 2048
)

// ChannelNetwork is an in-memory network of ChannelTransports for tests:
// packets sent to an address reach the transport registered there, subject
// to the loss rate and partitions the test sets. It is safe for concurrent
// use.
type ChannelNetwork struct {
	mu      sync.RWMutex
	nodes   map[netip.AddrPort]*ChannelTransport // guarded by mu
	blocked map[channelLink]struct{}             // guarded by mu
	loss    atomic.Uint64                        // math.Float64bits of the loss probability
	bufs    sync.Pool                            // *[]byte packet buffers
}

// channelLink is an unordered pair of addresses, stored lower first.
type channelLink struct{ a, b netip.AddrPort }

func linkOf(a, b netip.AddrPort) channelLink {
	if b.Compare(a) < 0 {
		a, b = b, a
	}
	return channelLink{a, b}
}

// NewChannelNetwork returns an empty network with no loss and no partitions.
func NewChannelNetwork() *ChannelNetwork {
	return &ChannelNetwork{
		nodes:   make(map[netip.AddrPort]*ChannelTransport),
		blocked: make(map[channelLink]struct{}),
	}
}

// NewTransport registers a transport at addr. secure is what its Secure
// method reports. An address can be reused once its previous transport is
// closed; registering an address that is in use panics, as that is a bug in
// the test.
func (n *ChannelNetwork) NewTransport(addr netip.AddrPort, secure bool) *ChannelTransport {
	t := &ChannelTransport{
		net:     n,
		addr:    addr,
		secure:  secure,
		queue:   make(chan channelPacket, channelQueueLen),
		closing: make(chan struct{}),
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.nodes[addr]; ok {
		panic(fmt.Sprintf("encap: channel network address %s is already in use; close its transport first", addr))
	}
	n.nodes[addr] = t
	return t
}

// SetLoss makes every later packet sent between transports vanish with
// probability p (clamped to [0, 1]). Inject is not subject to loss.
func (n *ChannelNetwork) SetLoss(p float64) {
	if math.IsNaN(p) || p < 0 {
		p = 0
	}
	p = min(p, 1)
	n.loss.Store(math.Float64bits(p))
}

// Block drops all packets between a and b, in both directions, until
// Unblock. Inject is not subject to blocks.
func (n *ChannelNetwork) Block(a, b netip.AddrPort) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.blocked[linkOf(a, b)] = struct{}{}
}

// Unblock heals a partition made by Block.
func (n *ChannelNetwork) Unblock(a, b netip.AddrPort) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.blocked, linkOf(a, b))
}

// Inject delivers pkt to the transport at dst as if from had sent it,
// regardless of loss and partitions; pkt may be any bytes, malformed ones
// included. It fails if no transport is at dst or its queue is full.
func (n *ChannelNetwork) Inject(dst, from netip.AddrPort, pkt []byte) error {
	n.mu.RLock()
	to := n.nodes[dst]
	n.mu.RUnlock()
	if to == nil {
		return fmt.Errorf("encap: inject: no channel transport at %s", dst)
	}
	if !to.enqueue(n.packet(pkt, from)) {
		return fmt.Errorf("encap: inject: queue of %s is full or closed", dst)
	}
	return nil
}

// route returns the transport a packet from src to dst reaches, or nil if
// there is none or the link is blocked.
func (n *ChannelNetwork) route(src, dst netip.AddrPort) *ChannelTransport {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if len(n.blocked) > 0 {
		if _, ok := n.blocked[linkOf(src, dst)]; ok {
			return nil
		}
	}
	return n.nodes[dst]
}

// lost rolls the dice for one packet.
func (n *ChannelNetwork) lost() bool {
	p := math.Float64frombits(n.loss.Load())
	return p > 0 && rand.Float64() < p
}

// packet copies pkt into a pooled buffer behind Headroom bytes.
func (n *ChannelNetwork) packet(pkt []byte, from netip.AddrPort) channelPacket {
	need := Headroom + len(pkt)
	bp, _ := n.bufs.Get().(*[]byte)
	if bp == nil || cap(*bp) < need {
		b := make([]byte, max(need, channelMinBuf))
		bp = &b
	}
	*bp = (*bp)[:need]
	copy((*bp)[Headroom:], pkt)
	return channelPacket{buf: bp, from: from}
}

func (n *ChannelNetwork) release(bp *[]byte) { n.bufs.Put(bp) }

// unregister removes t from the network if it still holds its address.
func (n *ChannelNetwork) unregister(t *ChannelTransport) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.nodes[t.addr] == t {
		delete(n.nodes, t.addr)
	}
}
