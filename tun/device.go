package tun

import (
	"errors"
	"net/netip"

	"meshnet.dev/meshnet/internal/packet"
)

// Device is a source and sink of Ethernet frames.
type Device interface {
	// Read reads up to len(bufs) frames; frame i lands at
	// bufs[i][offset:offset+sizes[i]]. It blocks until at least one frame is
	// available and returns the number read. After Close it returns
	// ErrClosed.
	Read(bufs [][]byte, sizes []int, offset int) (int, error)

	// WaitReadable blocks until TryRead would find frames, or the device
	// is closed (ErrClosed). It reads nothing, so a caller can wait before
	// it picks the buffers to read into. A TUN may still drop what it
	// finds (packets it cannot frame), leaving TryRead with none.
	WaitReadable() error

	// TryRead is Read without waiting: it reads what is queued, possibly
	// nothing.
	TryRead(bufs [][]byte, sizes []int, offset int) (int, error)

	// Write writes each bufs[i][offset:] as one frame and returns how many
	// were written. Bytes before offset may be overwritten (device headers).
	// Write is safe to call from several goroutines at once and does not keep
	// bufs.
	Write(bufs [][]byte, offset int) (int, error)

	// BatchSize is the most frames one Read returns.
	BatchSize() int

	// MTU is the device's L3 MTU (the largest IP packet inside a frame).
	MTU() int

	// Name is the kernel interface name, or a descriptive name for devices
	// without one.
	Name() string

	// HardwareAddr is the MAC this device's own frames carry as source.
	HardwareAddr() packet.MAC

	// Close releases the device; a non-persistent kernel device disappears.
	// Pending and later Reads return ErrClosed.
	Close() error
}

// Neighbors resolves overlay IP addresses to MACs for L3 devices, which must
// invent an Ethernet header for every packet the kernel hands them.
type Neighbors interface {
	LookupMAC(ip netip.Addr) (packet.MAC, bool)
}

// ErrClosed is returned by Read and Write on a closed Device.
var ErrClosed = errors.New("tun: device closed")

// LinkManager configures kernel interfaces. The production implementation
// uses netlink; FakeLinks records state for tests.
type LinkManager interface {
	// SetMTU sets the interface's MTU.
	SetMTU(name string, mtu int) error
	// AddAddress assigns prefix (address and mask) to the interface.
	AddAddress(name string, prefix netip.Prefix) error
	// DelAddress removes prefix from the interface; removing an address it
	// does not have is not an error.
	DelAddress(name string, prefix netip.Prefix) error
	// SetHardwareAddr sets the interface's MAC (TAP devices only).
	SetHardwareAddr(name string, mac packet.MAC) error
	// SetUp brings the interface up.
	SetUp(name string) error
	// DeleteLink removes the interface; deleting a missing one is not an error.
	DeleteLink(name string) error
	// LinkExists reports whether an interface of that name exists.
	LinkExists(name string) (bool, error)
	// RouteMTU returns the MTU of the underlay path towards dst: the route's
	// MTU if set, otherwise the outgoing interface's.
	RouteMTU(dst netip.Addr) (int, error)
	// EnsureBridge makes sure a Linux bridge of that name exists with the
	// given MAC (so it keeps one MAC whatever ports join) and is up; an
	// existing bridge is kept with its ports.
	EnsureBridge(name string, mac packet.MAC) error
	// SetMaster enslaves interface name to bridge.
	SetMaster(name, bridge string) error
}
