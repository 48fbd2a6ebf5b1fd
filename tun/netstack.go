package tun

// Netstack device: an Ethernet Device whose "kernel" is a gVisor userspace
// TCP/IP stack inside this process, so it needs no privilege and no kernel
// device at all.
//
// The stack speaks bare IP packets. Outbound, one pump goroutine takes each
// packet the stack emits, frames it like the TUN device does (l3Framer) into
// one of a fixed set of buffers and queues it; Read hands queued frames out
// in batches. Inbound, Write filters frames like the TUN device does
// (classifyFrame) and injects the IP packets into the stack, which copies
// them.
//
// The pump exists for two reasons. The stack hands over each packet by
// blocking its sending goroutine until someone reads it; the pump takes it at
// once into the queue, so TCP senders do not wait for the data path's next
// Read and Read can return batches. And the stack's Close must not race a
// sender still blocked on that hand-over, so the pump keeps draining (and
// discarding) until the stack has shut down.
//
// Locking: none of ours on the data path. The framer is immutable, buffers
// move between the free and ready channels (one owner at a time), and the
// drop counters are atomic.

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"

	wgtun "golang.zx2c4.com/wireguard/tun"
	"golang.zx2c4.com/wireguard/tun/netstack"

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
	// netstackQueueLen is how many frames the pump buffers for Read. When
	// they are all taken the pump stops, the stack's own queue fills and its
	// TCP backs off.
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
	// DNS are the name servers Net's lookups ask, inside the overlay. May
	// be empty.
	DNS []netip.Addr
}

// readyFrame is a framed packet in bufs[idx][:n], waiting for Read.
type readyFrame struct {
	idx, n int
}

// Netstack is an Ethernet Device backed by a userspace TCP/IP stack. Programs
// in this process reach the overlay through Net.
type Netstack struct {
	dev    wgtun.Device
	net    *netstack.Net
	name   string
	mtu    int
	framer l3Framer
	drops  dropCounters

	bufs    [][]byte        // netstackQueueLen buffers of EthHeaderLen+mtu+1 bytes
	free    chan int        // indexes into bufs owned by the pump
	ready   chan readyFrame // frames owned by Read
	discard []byte          // the pump's buffer while closing

	q heldQueue[readyFrame] // frames WaitReadable took from ready

	done      chan struct{} // closed by Close
	pumpDone  chan struct{} // closed when the pump returns
	closeOnce sync.Once
	closeErr  error
}

var _ Device = (*Netstack)(nil)

// NewNetstack creates a userspace stack with cfg's addresses and presents it
// as an Ethernet device. nb resolves unicast destinations to MACs for the
// frames Read returns, as for CreateTUN; it must be safe for concurrent use
// and fast. It starts one goroutine, which Close stops.
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
	addrs := make([]netip.Addr, len(cfg.Addresses))
	for i, p := range cfg.Addresses {
		addrs[i] = p.Addr()
	}
	dev, tnet, err := netstack.CreateNetTUN(addrs, cfg.DNS, cfg.MTU)
	if err != nil {
		return nil, fmt.Errorf("tun: netstack %q: create the userspace stack: %w", cfg.Name, err)
	}
	d := &Netstack{
		dev:      dev,
		net:      tnet,
		name:     cfg.Name,
		mtu:      cfg.MTU,
		framer:   newL3Framer(cfg.MAC, nb, cfg.Addresses),
		bufs:     make([][]byte, netstackQueueLen),
		free:     make(chan int, netstackQueueLen),
		ready:    make(chan readyFrame, netstackQueueLen),
		discard:  make([]byte, packet.EthHeaderLen+cfg.MTU+1),
		done:     make(chan struct{}),
		pumpDone: make(chan struct{}),
	}
	for i := range d.bufs {
		// One spare byte tells an oversized packet from a full-sized one.
		d.bufs[i] = make([]byte, packet.EthHeaderLen+cfg.MTU+1)
		d.free <- i
	}
	go d.pump()
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
	for _, a := range cfg.DNS {
		if !a.IsValid() || a.Zone() != "" {
			return fmt.Errorf("tun: netstack %q: DNS server %q is not a plain IP address", cfg.Name, a)
		}
	}
	return nil
}

// pump moves packets from the stack into ready frames until the stack is
// closed. After Close it keeps reading, into the discard buffer, so that no
// sender inside the stack stays blocked while the stack shuts down.
func (d *Netstack) pump() {
	defer close(d.pumpDone)
	one := make([][]byte, 1)
	sizes := make([]int, 1)
	for {
		idx := -1
		one[0] = d.discard
		select {
		case idx = <-d.free:
			one[0] = d.bufs[idx]
		case <-d.done:
		}
		_, err := d.dev.Read(one, sizes, packet.EthHeaderLen)
		switch {
		case errors.Is(err, os.ErrClosed):
			return
		case idx < 0:
			continue
		case err != nil:
			// A malformed packet from the stack; the next one is fine.
			d.drops.add(DropNotIP, 1)
			d.free <- idx
			continue
		}
		if r := d.frame(one[0], sizes[0]); r != DropNone {
			d.drops.add(r, 1)
			d.free <- idx
			continue
		}
		select {
		case d.ready <- readyFrame{idx: idx, n: packet.EthHeaderLen + sizes[0]}:
		case <-d.done:
			d.free <- idx
		}
	}
}

// frame puts the Ethernet header in front of the size-byte packet at
// buf[EthHeaderLen:].
func (d *Netstack) frame(buf []byte, size int) DropReason {
	if size > d.mtu {
		return DropTruncated
	}
	return d.framer.frame(buf[:packet.EthHeaderLen+size])
}
