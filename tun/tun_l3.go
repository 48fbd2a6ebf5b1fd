//go:build linux

package tun

// L3 TUN data path. The kernel side is wireguard-go's TUN with virtio-net
// offloads: one read(2) may carry a TCP or UDP super-packet that it splits
// into MTU-sized packets (GSO), and Write coalesces packets of one flow into
// super-packets (GRO) before writing them. Around it we add and strip the
// Ethernet header the data path expects.
//
// Read: packets land at offset+EthHeaderLen and l3Framer writes the header
// into the EthHeaderLen bytes in front; no lock of ours (the framer is
// immutable and the wireguard-go device serialises its reads).
// Write: classifyFrame filters the batch into wbufs (guarded by writeMu),
// which goes to the wireguard-go device at offset+EthHeaderLen; its
// virtio-net header lands in the Ethernet header's bytes.

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
	wgtun "golang.zx2c4.com/wireguard/tun"
)

// TUN is a Linux TUN device presented as an Ethernet device.
type TUN struct {
	dev    wgtun.Device
	name   string
	mtu    int
	framer l3Framer
	drops  dropCounters

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error

	writeMu sync.Mutex
	wbufs   [][]byte // frames accepted by the Write in progress; guarded by writeMu
}

var _ Device = (*TUN)(nil)

// CreateTUN creates the TUN device cfg.Name with offloads on, or attaches to
// it if it exists and is persistent; privileges are as for CreateTAP. nb
// resolves unicast destinations to MACs for the frames Read returns; it is
// called on the read path and must be safe for concurrent use and fast.
func CreateTUN(cfg TUNConfig, nb Neighbors) (*TUN, error) {
	return newTUN(cfg, nb, createOrOpen)
}

// OpenTUN attaches to the existing persistent TUN device cfg.Name and never
// creates one; see OpenTAP.
func OpenTUN(cfg TUNConfig, nb Neighbors) (*TUN, error) {
	return newTUN(cfg, nb, openExisting)
}

func newTUN(cfg TUNConfig, nb Neighbors, mode openMode) (*TUN, error) {
	if err := validateTUN(cfg, nb); err != nil {
		return nil, err
	}
	flags := uint16(unix.IFF_TUN | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	q, err := openQueue(cfg.Name, flags, mode, deviceOpts{persist: cfg.Persist, owner: cfg.Owner, group: cfg.Group})
	if err != nil {
		return nil, err
	}
	mtu, err := applyMTU(q.name, cfg.MTU)
	if err != nil {
		q.abandon()
		return nil, err
	}
	// The unmonitored variant starts no goroutines and sets no MTU (which
	// would need CAP_NET_ADMIN); it only enables the offloads. So there is no
	// event channel to drain.
	dev, _, err := wgtun.CreateUnmonitoredTUNFromFD(q.fd)
	if err != nil {
		// The descriptor now belongs to an *os.File whose finalizer closes
		// it; closing it here too could close an unrelated, reused number.
		return nil, fmt.Errorf("tun: enable offloads on TUN %q (needs Linux with virtio-net header support): %w", q.name, err)
	}
	return &TUN{
		dev:    dev,
		name:   q.name,
		mtu:    mtu,
		framer: newL3Framer(cfg.MAC, nb, cfg.Prefixes),
		wbufs:  make([][]byte, 0, dev.BatchSize()),
	}, nil
}

func validateTUN(cfg TUNConfig, nb Neighbors) error {
	switch {
	case nb == nil:
		return fmt.Errorf("tun: TUN %q needs a neighbour table to address frames; pass a non-nil Neighbors", cfg.Name)
	case cfg.MTU < 0:
		return fmt.Errorf("tun: TUN %q: MTU %d is negative; use 0 to keep the device's MTU", cfg.Name, cfg.MTU)
	case cfg.MAC == (MAC{}) || cfg.MAC[0]&1 != 0:
		return fmt.Errorf("tun: TUN %q: MAC %s is not a unicast address; give the device the MAC the overlay knows it by (RandomMAC makes one)", cfg.Name, formatMAC(cfg.MAC))
	}
	for _, p := range cfg.Prefixes {
		if !p.IsValid() {
			return fmt.Errorf("tun: TUN %q: prefix %s is not valid; give addresses with their masks, e.g. 10.1.0.5/24", cfg.Name, p)
		}
	}
	return nil
}

// RandomMAC returns a random locally administered unicast MAC.
func RandomMAC() (MAC, error) {
	var m MAC
	if _, err := rand.Read(m[:]); err != nil {
		return MAC{}, fmt.Errorf("tun: random MAC: %w", err)
	}
	m[0] = m[0]&^0x01 | 0x02
	return m, nil
}

// Read implements Device. Each IP packet from the kernel comes back as an
// Ethernet frame: source HardwareAddr; destination broadcast, the IPv4 or
// IPv6 multicast MAC of the group, the neighbour's MAC, or all-zero for an
// unknown neighbour (the forwarder drops and counts that as unknown unicast).
// bufs[i] needs room for offset+EthHeaderLen+MTU bytes.
func (t *TUN) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	for {
		if t.closed.Load() {
			return 0, ErrClosed
		}
		n, err := t.dev.Read(bufs, sizes, offset+EthHeaderLen)
		if errors.Is(err, wgtun.ErrTooManySegments) {
			t.drops.add(DropSegments, 1)
			err = nil
		}
		if err != nil {
			return 0, t.readErr(err)
		}
		if k := t.frameAll(bufs[:n], sizes, offset); k > 0 {
			return k, nil
		}
	}
}

// frameAll puts an Ethernet header in front of each packet and compacts the
// batch over packets that are not IP (which a TUN should never hand us, so
// the copy costs nothing in practice). It returns how many frames remain.
func (t *TUN) frameAll(bufs [][]byte, sizes []int, offset int) int {
	k := 0
	for i := range bufs {
		end := offset + EthHeaderLen + sizes[i]
		if end > len(bufs[i]) {
			// Segmentation copies what fits and reports the full size.
			t.drops.add(DropTruncated, 1)
			continue
		}
		if r := t.framer.frame(bufs[i][offset:end]); r != DropNone {
			t.drops.add(r, 1)
			continue
		}
		if k != i {
			copy(bufs[k][offset:], bufs[i][offset:end])
		}
		sizes[k] = EthHeaderLen + sizes[i]
		k++
	}
	return k
}

func (t *TUN) readErr(err error) error {
	switch {
	case t.closed.Load(), errors.Is(err, os.ErrClosed):
		return ErrClosed
	case errors.Is(err, unix.EBADFD):
		return fmt.Errorf("tun: TUN %q was deleted while in use: %w", t.name, ErrClosed)
	}
	return fmt.Errorf("tun: read from TUN %q: %w", t.name, err)
}

// Write implements Device. Frames carrying IPv4 or IPv6 (matching the
// EtherType) to HardwareAddr, broadcast or a multicast MAC are written to the
// kernel as IP packets in one batch; the rest are dropped and counted by
// reason (see Drops). Dropped frames count as written.
//
// Write modifies the frames: the Ethernet header is overwritten, and packet
// coalescing may append payload into the spare capacity of one frame's
// buffer. Each bufs[i] must therefore own its capacity (no two frames
// sharing one array), and a frame must not be reused after Write. On error
// Write returns 0: the kernel does not say which packets it took.
func (t *TUN) Write(bufs [][]byte, offset int) (int, error) {
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	if t.closed.Load() {
		return 0, ErrClosed
	}
	for _, b := range bufs {
		if r := classifyFrame(b[offset:], t.framer.mac); r != DropNone {
			t.drops.add(r, 1)
			continue
		}
		t.wbufs = append(t.wbufs, b)
	}
	if len(t.wbufs) == 0 {
		return len(bufs), nil
	}
	_, err := t.dev.Write(t.wbufs, offset+EthHeaderLen)
	clear(t.wbufs) // do not keep the caller's buffers
	t.wbufs = t.wbufs[:0]
	if err != nil {
		if t.closed.Load() || errors.Is(err, os.ErrClosed) {
			return 0, ErrClosed
		}
		return 0, fmt.Errorf("tun: write to TUN %q: %w", t.name, err)
	}
	return len(bufs), nil
}

// Drops returns how many frames and packets the device dropped, by reason
// (DropReason.String labels, every reason present, zeros included). Write
// drops runt, arp, ethertype, dst_mac and ip_version; Read drops not_ip,
// segments and truncated.
func (t *TUN) Drops() map[string]uint64 { return t.drops.snapshot() }

// BatchSize implements Device.
func (t *TUN) BatchSize() int { return t.dev.BatchSize() }

// MTU implements Device: the MTU in effect when the device was opened.
func (t *TUN) MTU() int { return t.mtu }

// Name implements Device.
func (t *TUN) Name() string { return t.name }

// HardwareAddr implements Device: the configured MAC.
func (t *TUN) HardwareAddr() MAC { return t.framer.mac }

// Close implements Device; see TAP.Close.
func (t *TUN) Close() error {
	t.closeOnce.Do(func() {
		t.closed.Store(true)
		if err := t.dev.Close(); err != nil {
			t.closeErr = fmt.Errorf("tun: close TUN %q: %w", t.name, err)
		}
	})
	return t.closeErr
}
