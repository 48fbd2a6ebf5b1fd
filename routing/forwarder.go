package routing

// The Forwarder moves Ethernet frames between devices and transports.
//
// Outbound (one goroutine per attached network, Port.Run):
//
//	device.WaitReadable ─▶ transport.Borrow a batch ─▶ device.TryRead
//	into it ─▶ for each frame: learn source ─▶ ARP/NS for a known
//	endpoint? answer locally ─▶ broadcast/multicast? copy aside
//	(rate-bounded) ─▶ unicast: hook, FDB lookup ─▶ VXLAN header written in
//	the headroom ─▶ Put ─▶ Return sends the batch ─▶ the copies go to every
//	member (port.go, replicate.go)
//
// Inbound (transport goroutines, concurrently, Receive):
//
//	VXLAN parse ─▶ network joined? sender a member? plaintext allowed? ─▶
//	hook ─▶ device.Write in batches
//
// Locking: the data path loads one Snapshot per batch through an atomic
// pointer and never takes the Table's lock. A Port's outbound scratch is
// owned by its Run goroutine. Inbound scratch comes from a pool. Counters are
// atomics added once per batch where possible.

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/internal/packet"
)

// Device is what the Forwarder needs of a tun device (tun.Device has it
// all). Reads come in two steps so that the port can wait for frames
// before it borrows a batch to read them into (port.go).
type Device interface {
	// WaitReadable blocks until TryRead would find frames, or returns the
	// error a read would (the device was closed).
	WaitReadable() error
	// TryRead reads what is queued, up to min(len(bufs), len(sizes))
	// frames, frame i at bufs[i][offset:offset+sizes[i]], without waiting;
	// it may return none.
	TryRead(bufs [][]byte, sizes []int, offset int) (int, error)
	Write(bufs [][]byte, offset int) (int, error)
	BatchSize() int
	HardwareAddr() packet.MAC
}

// VerifiedWriter is a Device that can take frames whose integrity the
// transport verified end to end without verifying their TCP/UDP checksums
// again (tun's kernel devices with offloads).
type VerifiedWriter interface {
	WriteVerified(bufs [][]byte, offset int) (int, error)
}

// Config assembles a Forwarder.
type Config struct {
	Table *Table
	// Plain carries unencrypted networks; Secure carries encrypted ones.
	// Either may be nil, and then its networks cannot reach peers.
	Plain, Secure encap.Transport
	// Hook, if set, is the service load balancer.
	Hook packet.Hook
	// Learn receives endpoints seen behind local devices. It must not block;
	// it returns false when it could not take the report, and the frame's
	// source will be reported again later.
	Learn func(Learned) bool
	// BUMRate bounds broadcast/multicast frames replicated per network per
	// second; BUMBurst is the bucket size. Zero picks the defaults.
	BUMRate  float64
	BUMBurst int
	// VerifyInnerChecksums makes devices verify the TCP/UDP checksums of
	// every frame from a peer. By default frames whose integrity the
	// transport verified end to end skip that (see VerifiedWriter): those
	// of the secure transport, which WireGuard authenticated, and those a
	// meshnet node sent over the plain transport, whose UDP checksum
	// meshnet always sets and the kernel checked on receipt. Frames from
	// static VXLAN peers (a kernel vxlan device sends no UDP checksum over
	// IPv4 by default) are always verified. A second verification costs a
	// pass over every byte and proves nothing the first did not.
	VerifyInnerChecksums bool
	// CopySend stops the port from borrowing the secure transport's
	// buffers: frames of encrypted networks are read into the port's own
	// buffers and the transport copies them into WireGuard's (Send), a
	// copy per packet more. It changes nothing for plain networks, whose
	// transport lends the port's own buffers anyway.
	CopySend bool
	Logger   *slog.Logger
}

// Defaults for the broadcast/multicast rate bound: enough for ARP storms of a
// few hundred endpoints and service discovery chatter, far below what would
// let one node flood the mesh.
const (
	DefaultBUMRate  = 2000
	DefaultBUMBurst = 400
)

// Forwarder is the data path between devices and transports.
type Forwarder struct {
	cfg   Config
	log   *slog.Logger
	mu    sync.Mutex // serialises changes to ports
	ports atomic.Pointer[map[uint32]*Port]
	drops Drops // drops that belong to no attached network
	rx    sync.Pool
}

// New returns a Forwarder; attach devices with Attach.
func New(cfg Config) *Forwarder {
	if cfg.BUMRate <= 0 {
		cfg.BUMRate = DefaultBUMRate
	}
	if cfg.BUMBurst <= 0 {
		cfg.BUMBurst = DefaultBUMBurst
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	f := &Forwarder{cfg: cfg, log: cfg.Logger.With("component", "forwarder")}
	f.ports.Store(&map[uint32]*Port{})
	f.rx.New = func() any { return new(rxScratch) }
	return f
}

// Drops returns drops not attributable to an attached network.
func (f *Forwarder) Drops() *Drops { return &f.drops }

// Attach connects dev to network vni. Frames from peers for vni go to dev at
// once; frames from dev flow once the caller runs Port.Run.
func (f *Forwarder) Attach(vni uint32, dev Device) (*Port, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := *f.ports.Load()
	if _, ok := old[vni]; ok {
		return nil, fmt.Errorf("network with VNI %d already has a device", vni)
	}
	p := newPort(f, vni, dev)
	m := make(map[uint32]*Port, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[vni] = p
	f.ports.Store(&m)
	return p, nil
}

// Detach stops delivering frames to the device of network vni. The caller
// closes the device, which ends the port's Run.
func (f *Forwarder) Detach(vni uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := *f.ports.Load()
	if _, ok := old[vni]; !ok {
		return
	}
	m := make(map[uint32]*Port, len(old))
	for k, v := range old {
		if k != vni {
			m[k] = v
		}
	}
	f.ports.Store(&m)
}

// Port returns the port of network vni, or nil.
func (f *Forwarder) Port(vni uint32) *Port { return (*f.ports.Load())[vni] }

// Frames returns how many frames the attached ports have moved, both ways,
// since they were attached: a count that grows while there is traffic.
func (f *Forwarder) Frames() uint64 {
	var n uint64
	for _, p := range *f.ports.Load() {
		n += p.Stats.TxPackets.Load() + p.Stats.RxPackets.Load()
	}
	return n
}
