package tun

// TAP data path: the shared kernel queue (kqueue_linux.go) carrying
// Ethernet frames as they are, with the virtio-net offloads unless
// TAPConfig.DisableOffload.

import (
	"fmt"

	"meshnet.dev/meshnet/internal/packet"
)

// tapBatchSize is the most frames one TAP.Read returns.
const tapBatchSize = kqBatchSize

// TAP is a Linux TAP device: the kernel hands it whole Ethernet frames.
type TAP struct {
	q     *kqueue
	mtu   int
	mac   packet.MAC
	drops dropCounters
}

var _ Device = (*TAP)(nil)

// CreateTAP creates the TAP device cfg.Name, or attaches to it if it exists
// and is persistent. Creating needs CAP_NET_ADMIN; attaching to a persistent
// device needs it too unless the caller is the device's owner or group.
func CreateTAP(cfg TAPConfig) (*TAP, error) { return newTAP(cfg, createOrOpen) }

// OpenTAP attaches to the existing persistent TAP device cfg.Name and never
// creates one. This is how an unprivileged meshnet uses a device prepared by
// `meshnet device create`; leave cfg.MTU and cfg.MAC zero to keep the
// device's own.
func OpenTAP(cfg TAPConfig) (*TAP, error) { return newTAP(cfg, openExisting) }

func newTAP(cfg TAPConfig, mode openMode) (*TAP, error) {
	if cfg.MTU < 0 {
		return nil, fmt.Errorf("tun: TAP %q: MTU %d is negative; use 0 to keep the device's MTU", cfg.Name, cfg.MTU)
	}
	if packet.IsMulticast(cfg.MAC) {
		return nil, fmt.Errorf("tun: TAP %q: MAC %s is a group address; a device needs a unicast MAC", cfg.Name, formatMAC(cfg.MAC))
	}
	t := &TAP{}
	opts := deviceOpts{persist: cfg.Persist, owner: cfg.Owner, group: cfg.Group}
	q, err := openKQueue("TAP", tapFlag, cfg.Name, mode, opts, offloadOpts{disable: cfg.DisableOffload, coalesceUDP: cfg.CoalesceUDP}, &t.drops, func(q queue) error {
		var err error
		if t.mtu, err = applyMTU(q.name, cfg.MTU); err != nil {
			return err
		}
		t.mac, err = applyMAC(q.name, cfg.MAC)
		return err
	})
	if err != nil {
		return nil, err
	}
	t.q = q
	return t, nil
}

// Read implements Device. It returns at most min(len(bufs), BatchSize())
// frames. bufs[i] needs room for offset+EthHeaderLen+MTU bytes (plus 4 for a
// VLAN tag); the kernel cuts longer frames short. With offloads a
// super-frame lands whole in a buffer before it is cut, so every buffer
// needs 64 KiB after offset, and Read uses the 10 bytes before offset for
// the virtio-net header when they exist.
func (t *TAP) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	return t.q.read(bufs, sizes, offset, false)
}

// TryRead is Read without waiting: it returns what is queued, possibly
// nothing.
func (t *TAP) TryRead(bufs [][]byte, sizes []int, offset int) (int, error) {
	return t.q.read(bufs, sizes, offset, true)
}

// WaitReadable blocks until a Read would not block.
func (t *TAP) WaitReadable() error { return t.q.waitReadable() }

// Write implements Device: one write(2) per frame. A frame the kernel refuses
// does not stop the rest; Write returns how many frames went in and the
// first error.
//
// With offloads, Write first coalesces the TCP segments of a flow into one
// super-frame (see TUN.Write for what that asks of bufs), verifying each
// segment's checksum before merging it.
func (t *TAP) Write(bufs [][]byte, offset int) (int, error) { return t.q.write(bufs, offset, false) }

// WriteVerified is Write for frames whose integrity the transport has
// already verified end to end: their checksums are not verified again,
// and the kernel is told so (as kernel WireGuard does for what it
// decrypts). Without offloads it is Write.
func (t *TAP) WriteVerified(bufs [][]byte, offset int) (int, error) {
	return t.q.write(bufs, offset, true)
}

// Offloads reports which offloads the device uses.
func (t *TAP) Offloads() Offloads { return t.q.offloads }

// Drops returns how many frames the device dropped, by reason (DropReason
// labels, every reason present, zeros included); a TAP drops only on the
// read side with offloads: truncated and bad_offload.
func (t *TAP) Drops() map[string]uint64 { return t.drops.snapshot() }

// BatchSize implements Device.
func (t *TAP) BatchSize() int { return tapBatchSize }

// MTU implements Device: the MTU in effect when the device was opened.
func (t *TAP) MTU() int { return t.mtu }

// Name implements Device.
func (t *TAP) Name() string { return t.q.name }

// HardwareAddr implements Device: the device's MAC as the kernel has it, the
// source of every frame the kernel sends through it.
func (t *TAP) HardwareAddr() packet.MAC { return t.mac }

// Close implements Device. It unblocks a pending Read. A non-persistent device
// disappears; a persistent one stays for the next open.
func (t *TAP) Close() error { return t.q.close() }
