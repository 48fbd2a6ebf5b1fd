package encap

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.zx2c4.com/wireguard/conn"
)

// PlainConfig configures the plain (unencrypted, standard VXLAN) transport.
type PlainConfig struct {
	// Port is the UDP port to listen on and the one kernel vxlan peers send
	// to. Zero means the IANA VXLAN port, 4789, so a plain node talks to a
	// kernel vxlan device configured with its defaults.
	Port uint16

	// EphemeralPort asks the kernel for any free port instead of Port, for
	// tests and for several nodes on one host; LocalPort reports the choice.
	EphemeralPort bool

	// Logger receives the transport's warnings; nil discards them.
	Logger *slog.Logger

	// DisableOffload turns off UDP segmentation (GSO) on send and generic
	// receive offload (GRO) on receive, for kernels and NICs where they are
	// broken. It costs throughput: each datagram becomes its own send and
	// the socket reads at most two datagrams per system call.
	DisableOffload bool

	// IPv4Only listens over IPv4 alone, for a node whose underlay is
	// IPv4 (Linux; elsewhere both families).
	IPv4Only bool
}

// Plain is the plain transport: standard VXLAN over UDP with batched I/O
// (recvmmsg/sendmmsg and, unless disabled, UDP GSO/GRO; see udpBind). It listens on the
// same port over IPv4 and IPv6. Packets it delivers are not authenticated.
type Plain struct {
	log        *slog.Logger
	bind       conn.Bind
	fns        []conn.ReceiveFunc
	port       uint16
	batch      int
	noOffload  bool
	eps        endpointCache
	scratch    sync.Pool // *[][]byte of len batch, for Send
	stats      counters
	gsoWarned  atomic.Bool
	closed     atomic.Bool
	closing    chan struct{} // closed by Close; wakes receive back-offs
	wg         sync.WaitGroup
	mu         sync.Mutex // guards started and the closing transition
	started    bool
	closeOnce  sync.Once
	closeError error
}

var _ Transport = (*Plain)(nil)

// NewPlain opens the UDP sockets of a plain transport. Packets are received
// only after Start.
func NewPlain(cfg PlainConfig) (*Plain, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	port := cfg.Port
	if port == 0 {
		port = Port
	}
	if cfg.EphemeralPort {
		port = 0
	}
	bind := newBind(bindOptions{noOffload: cfg.DisableOffload, ipv4Only: cfg.IPv4Only})
	fns, actual, err := bind.Open(port)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("plain transport: UDP port %d is already in use; another meshnet or a kernel vxlan device may hold it (find it with `ss -ulpn sport = :%d`), stop it or configure another port: %w", port, port, err)
	}
	if err != nil {
		return nil, fmt.Errorf("plain transport: cannot listen on UDP port %d: %w", port, err)
	}
	p := &Plain{
		log:       log.With("component", "encap.plain", "port", actual),
		bind:      bind,
		fns:       fns,
		port:      actual,
		batch:     bind.BatchSize(),
		noOffload: cfg.DisableOffload,
		eps:       endpointCache{eps: make(map[netip.AddrPort]conn.Endpoint)},
		closing:   make(chan struct{}),
	}
	p.scratch.New = func() any {
		s := make([][]byte, p.batch)
		return &s
	}
	return p, nil
}

// Start begins delivering received packets to r, one goroutine per socket.
func (p *Plain) Start(r Receiver) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := startOnce("plain", r, &p.closed, &p.started); err != nil {
		return err
	}
	for _, fn := range p.fns {
		p.wg.Add(1)
		go p.receive(fn, r)
	}
	return nil
}

// BatchSize is the most packets one Send accepts and one Receive delivers.
func (p *Plain) BatchSize() int { return p.batch }

// Secure reports false: plain VXLAN is not authenticated.
func (p *Plain) Secure() bool { return false }

// LocalPort is the UDP port the transport listens on.
func (p *Plain) LocalPort() uint16 { return p.port }

// Stats returns the transport's counters.
func (p *Plain) Stats() Stats { return p.stats.snapshot() }

// Close closes the sockets and waits for the receive goroutines to return,
// so a Receive call in progress must finish. Later calls return the first
// call's result.
func (p *Plain) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed.Store(true)
		close(p.closing)
		if err := p.bind.Close(); err != nil {
			p.closeError = fmt.Errorf("plain transport: closing UDP port %d: %w", p.port, err)
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p.closeError
}

// Borrow lends own: the plain transport has no buffers of its own. Return
// sends what was Put with Send.
func (p *Plain) Borrow(b *Batch, own [][]byte) bool {
	if p.closed.Load() {
		return false
	}
	b.Lend(own, p)
	return true
}
