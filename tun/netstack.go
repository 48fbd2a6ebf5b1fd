package tun

// Netstack device: an Ethernet Device whose "kernel" is a gVisor userspace
// TCP/IP stack inside this process, so it needs no privilege and no kernel
// device at all.
//
// The stack speaks bare IP packets through a channel link endpoint. Outbound,
// the stack calls writeNotify on the goroutine that sent the packet; it
// frames the packet like the TUN device does (l3Framer) into one of a fixed
// set of buffers and queues it, and Read hands queued frames out in batches.
// When every buffer is queued, the sender waits for a free one, so a TCP
// sender in the stack feels the data path's pace. Inbound, Write filters
// frames like the TUN device does (classifyFrame) and injects the IP packets
// into the stack, which copies them.
//
// The device owns the stack and its link endpoint rather than borrowing a
// ready-made TUN adapter: the hand-over from the stack never touches a
// channel that Close closes, so a packet the stack emits while it shuts down
// (a retransmission, a reset, a sender that was waiting for a buffer) is
// dropped, never sent on a closed channel.
//
// Locking: none of ours on the data path. The framer is immutable, buffers
// move between the free and ready channels (one owner at a time), and the
// drop counters are atomic.

import (
	"fmt"
	"net"
	"net/netip"
	"sync"

	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"meshnet.dev/meshnet/internal/packet"
)

// Limits of the netstack device.
const (
	// DefaultNetstackMTU is used when NetstackConfig.MTU is 0: the MTU of an
	// encrypted overlay over an IPv6 underlay with a 1500-byte path (1500
	// minus 150 bytes of overhead), so the default fits everywhere.
	DefaultNetstackMTU = 1350
	// minNetstackMTU is the IPv6 minimum MTU (RFC 8200); the stack carries
	// IPv6 as well as IPv4.
	minNetstackMTU = 1280
	// maxNetstackMTU is the largest IP packet.
	maxNetstackMTU = 65535
	// netstackQueueLen is how many frames wait for Read. When they are all
	// taken the stack's sender waits for a free buffer, the stack's own
	// queue fills and its TCP backs off.
	netstackQueueLen = 256
	// netstackBatchSize is the most frames one Read returns.
	netstackBatchSize = 128
)

// NetstackConfig describes a netstack device.
type NetstackConfig struct {
	// Name is a descriptive name for logs and status; there is no kernel
	// interface. Empty means "netstack".
	Name string
	// MAC is the source of every frame Read returns and the only unicast
	// destination Write accepts: the address the overlay knows this node's
	// stack by. It must be unicast and not zero.
	MAC packet.MAC
	// MTU is the stack's L3 MTU; 0 means DefaultNetstackMTU.
	MTU int
	// Addresses are the stack's own overlay addresses with their subnet
	// lengths; at least one. The stack answers only for the addresses; the
	// lengths give the directed broadcast addresses (as for TUN prefixes).
	// They cannot change after creation: create the device once they are
	// known, and create a new one to change them.
	Addresses []netip.Prefix
}

// readyFrame is a framed packet in bufs[idx][:n], waiting for Read.
type readyFrame struct {
	idx, n int
}

// Netstack is an Ethernet Device backed by a userspace TCP/IP stack. Programs
// in this process reach the overlay through Net.
type Netstack struct {
	stack  *stack.Stack
	ep     *channel.Endpoint
	net    *StackNet
	name   string
	mtu    int
	framer l3Framer
	drops  dropCounters

	bufs  [][]byte        // netstackQueueLen buffers of EthHeaderLen+mtu bytes
	free  chan int        // indexes into bufs not holding a frame
	ready chan readyFrame // frames owned by Read

	q heldQueue[readyFrame] // frames WaitReadable took from ready

	done      chan struct{} // closed by Close
	closeOnce sync.Once
}

var _ Device = (*Netstack)(nil)

// NewNetstack creates a userspace stack with cfg's addresses and presents it
// as an Ethernet device. nb resolves unicast destinations to MACs for the
// frames Read returns, as for CreateTUN; it must be safe for concurrent use
// and fast. The stack runs its own goroutines, which Close stops.
func NewNetstack(cfg NetstackConfig, nb Neighbors) (*Netstack, error) {
	if cfg.Name == "" {
		cfg.Name = "netstack"
	}
	if cfg.MTU == 0 {
		cfg.MTU = DefaultNetstackMTU
	}
	if err := validateNetstack(cfg, nb); err != nil {
		return nil, err
	}
	d := &Netstack{
		name:   cfg.Name,
		mtu:    cfg.MTU,
		framer: newL3Framer(cfg.MAC, nb, cfg.Addresses),
		bufs:   make([][]byte, netstackQueueLen),
		free:   make(chan int, netstackQueueLen),
		ready:  make(chan readyFrame, netstackQueueLen),
		done:   make(chan struct{}),
	}
	for i := range d.bufs {
		d.bufs[i] = make([]byte, packet.EthHeaderLen+cfg.MTU)
		d.free <- i
	}
	if err := d.startStack(cfg.Addresses); err != nil {
		return nil, fmt.Errorf("tun: netstack %q: create the userspace stack: %w", cfg.Name, err)
	}
	return d, nil
}

func validateNetstack(cfg NetstackConfig, nb Neighbors) error {
	switch {
	case nb == nil:
		return fmt.Errorf("tun: netstack %q needs a neighbour table to address frames; pass a non-nil Neighbors", cfg.Name)
	case cfg.MTU < minNetstackMTU || cfg.MTU > maxNetstackMTU:
		return fmt.Errorf("tun: netstack %q: MTU %d is out of range; use %d to %d, or 0 for %d", cfg.Name, cfg.MTU, minNetstackMTU, maxNetstackMTU, DefaultNetstackMTU)
	case packet.IsZero(cfg.MAC) || packet.IsMulticast(cfg.MAC):
		return fmt.Errorf("tun: netstack %q: MAC %s is not a unicast address; give the device the MAC the overlay knows it by (RandomMAC makes one)", cfg.Name, net.HardwareAddr(cfg.MAC[:]))
	case len(cfg.Addresses) == 0:
		return fmt.Errorf("tun: netstack %q has no address; give the node's overlay addresses with their subnet lengths, e.g. 10.1.0.5/24", cfg.Name)
	}
	seen := make(map[netip.Addr]bool, len(cfg.Addresses))
	for _, p := range cfg.Addresses {
		a := p.Addr()
		switch {
		case !p.IsValid():
			return fmt.Errorf("tun: netstack %q: address %s is not valid; give addresses with their subnet lengths, e.g. 10.1.0.5/24", cfg.Name, p)
		case a.Is4In6() || a.IsUnspecified() || a.IsMulticast():
			return fmt.Errorf("tun: netstack %q: address %s cannot be a host address; give a unicast IPv4 or IPv6 address", cfg.Name, p)
		case seen[a]:
			return fmt.Errorf("tun: netstack %q: address %s is given twice; list each address once", cfg.Name, a)
		}
		seen[a] = true
	}
	return nil
}
