package encap

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.zx2c4.com/wireguard/device"
)

// WireGuard is the encrypted transport: an embedded wireguard-go device
// whose tunnelled packets are VXLAN over UDP over IPv6 between per-node VTEP
// addresses, so a host running stock WireGuard and a kernel vxlan device is
// a valid peer. Peers are configured with SetPeers; packets it delivers have
// been authenticated as coming from the peer whose VTEP they are from.
//
// The Receiver gets packets at offset 64 in WireGuard's buffers, not at
// Headroom: use the offset passed to Receive. Receive may call Send, but
// not SetPeers, RemovePeer, SetPrivateKey or Close: those wait for
// WireGuard's receive goroutines, one of which is the caller.
type WireGuard struct {
	log     *slog.Logger
	dev     *device.Device
	tun     *wgTUN
	uapi    *wgUAPI // nil without an interface name
	name    string
	port    uint16
	batch   int
	fullSum bool // no local checksum offload for the tunnelled UDP checksum

	vtep      atomic.Pointer[netip.Addr]              // own VTEP, the source of sent packets
	vteps     atomic.Pointer[map[netip.Addr]struct{}] // peers' VTEPs, for Send; never mutated once stored
	receiver  atomic.Pointer[Receiver]
	rxScratch sync.Pool   // *wgRxScratch
	rxGate    *flightGate // nil without a receive bound
	stats     counters
	drops     wgDropCounters
	closed    atomic.Bool

	mu        sync.Mutex // serialises configuration; guards the fields below
	pub       [32]byte
	peers     map[[32]byte]wgPeerRecord // what SetPeers configured
	kicks     map[[32]byte]*time.Timer  // pending handshake kicks
	started   bool
	closeOnce sync.Once
}

var _ Transport = (*WireGuard)(nil)

// NewWireGuard starts a WireGuard device with no peers listening on the
// configured UDP port (and the configuration socket, if named). Packets are
// delivered only after Start.
func NewWireGuard(cfg WireGuardConfig) (*WireGuard, error) {
	s, err := cfg.validate()
	if err != nil {
		return nil, fmt.Errorf("wireguard transport: %w", err)
	}
	w := &WireGuard{
		log:     s.log.With("component", "encap.wireguard"),
		name:    s.name,
		pub:     s.pub,
		fullSum: s.fullSum,
		peers:   make(map[[32]byte]wgPeerRecord),
	}
	w.vtep.Store(&s.vtep)
	w.vteps.Store(&map[netip.Addr]struct{}{})

	if s.name != "" {
		if w.uapi, err = openUAPI(s.name, w.log); err != nil {
			return nil, fmt.Errorf("wireguard transport: %w", err)
		}
	}
	bind := newBind(bindOptions{noOffload: s.noGSO, batch: s.batch, ipv4Only: s.ipv4Only})
	w.batch = bind.BatchSize()
	w.rxScratch.New = func() any { return newWGRxScratch(w.batch) }
	var txGate *flightGate
	if s.rxInFlight > 0 {
		w.rxGate = newFlightGate(s.rxInFlight)
	}
	if s.txInFlight > 0 {
		txGate = newFlightGate(s.txInFlight)
	}
	w.tun = newWGTUN(s.name, s.mtu, w.batch, w.deliver, txGate)
	w.dev = device.NewDevice(w.tun, &wgBind{Bind: bind, rx: w.rxGate, tx: txGate}, newDeviceLogger(w.log, time.Now))

	if err := w.start(s); err != nil {
		w.dev.Close()
		if w.uapi != nil {
			w.uapi.close()
		}
		return nil, fmt.Errorf("wireguard transport: %w", err)
	}
	if w.uapi != nil {
		w.uapi.serve(w.dev)
	}
	w.log = w.log.With("port", w.port)
	return w, nil
}

// start configures the key and port and brings the device up.
func (w *WireGuard) start(s wgSettings) error {
	if err := w.dev.IpcSet(fmt.Sprintf("private_key=%s\nlisten_port=%d\n", s.key.uapiHex(), s.port)); err != nil {
		return errors.New("the device refused its private key or port") // its error could quote the key
	}
	if err := w.dev.Up(); err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("UDP port %d is already in use; another meshnet or WireGuard may hold it (find it with `ss -ulpn sport = :%d`), stop it or configure another port: %w", s.port, s.port, err)
		}
		return fmt.Errorf("cannot listen on UDP port %d: %w", s.port, err)
	}
	state, err := w.ipcState()
	if err != nil {
		return err
	}
	w.port = state.listenPort
	return nil
}

// ipcState reads the device's state.
func (w *WireGuard) ipcState() (ipcDevice, error) {
	text, err := w.dev.IpcGet()
	if err != nil {
		return ipcDevice{}, fmt.Errorf("reading the device's state: %w", err)
	}
	d, err := parseIpcGet(text)
	if err != nil {
		return ipcDevice{}, fmt.Errorf("reading the device's state: %w", err)
	}
	return d, nil
}

// Start begins delivering received packets to r.
func (w *WireGuard) Start(r Receiver) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := startOnce("wireguard", r, &w.closed, &w.started); err != nil {
		return err
	}
	w.receiver.Store(&r)
	return nil
}

// BatchSize is the most packets one Send accepts and one Receive delivers.
func (w *WireGuard) BatchSize() int { return w.batch }

// Secure reports true: WireGuard authenticates every packet it delivers.
func (w *WireGuard) Secure() bool { return true }

// LocalPort is the UDP port WireGuard listens on.
func (w *WireGuard) LocalPort() uint16 { return w.port }

// PublicKey is this node's current public key.
func (w *WireGuard) PublicKey() [32]byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pub
}

// VTEP is this node's current VTEP address.
func (w *WireGuard) VTEP() netip.Addr { return *w.vtep.Load() }

// InterfaceName is the name `wg show` knows the device by ("" without a
// configuration socket).
func (w *WireGuard) InterfaceName() string { return w.name }

// Stats returns the transport's counters: VXLAN packets and bytes handed
// to WireGuard and delivered to the Receiver. Dropped counts decrypted
// packets that were not VXLAN for this node, by reason in Drops.
// ReceiveErrors stays zero: the socket belongs to WireGuard, whose errors
// go to the log (rate-limited), and PeerStats counts its bytes per peer.
func (w *WireGuard) Stats() Stats {
	s := w.stats.snapshot()
	s.Dropped = w.drops.total()
	return s
}

// Drops returns how many decrypted packets were dropped, by reason
// (WGDropReason labels, every reason present, zeros included).
func (w *WireGuard) Drops() map[string]uint64 { return w.drops.snapshot() }

// Close takes the device down and closes it, removes the configuration
// socket and waits for every goroutine the transport started. Blocked
// Sends return ErrClosed; a Receive in progress finishes first. Later
// calls do nothing.
func (w *WireGuard) Close() error {
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.closed.Store(true)
		w.stopKicksLocked()
		w.mu.Unlock()
		if w.uapi != nil {
			w.uapi.close()
		}
		// Closes the VXLAN side first (unblocking Read and Sends), then
		// the socket, then stops every peer, waiting for their receive
		// goroutines and so for any Receive in progress.
		w.dev.Close()
	})
	return nil
}
