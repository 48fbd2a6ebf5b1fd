//go:build linux

package tun

// L3 TUN data path: the shared kernel queue (kqueue_linux.go) carrying IP
// packets, with the virtio-net offloads unless TUNConfig.DisableOffload:
// one read(2) may carry a TCP or UDP super-packet that Read cuts into
// MTU-sized packets, and Write coalesces the packets of a flow into
// super-packets before writing them. Around it we add and strip the
// Ethernet header the data path expects.
//
// Read: packets land at offset+EthHeaderLen (the virtio-net header, when
// there is one, in the bytes of the Ethernet header) and l3Framer writes
// the Ethernet header into the EthHeaderLen bytes in front; no lock of
// ours beyond the queue's read lock (the framer is immutable).
// Write: classifyFrame filters the batch into a pooled scratch list, which
// goes to the queue at offset+EthHeaderLen; its virtio-net header lands in
// the Ethernet header's bytes.

import (
	"crypto/rand"
	"fmt"
	"sync"

	"meshnet.dev/meshnet/internal/packet"
)

// TUN is a Linux TUN device presented as an Ethernet device.
type TUN struct {
	q      *kqueue
	mtu    int
	framer l3Framer
	drops  dropCounters
	wbufs  sync.Pool // *[][]byte: frames accepted by one Write
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
	t := &TUN{framer: newL3Framer(cfg.MAC, nb, cfg.Prefixes)}
	t.wbufs.New = func() any {
		s := make([][]byte, 0, kqBatchSize)
		return &s
	}
	opts := deviceOpts{persist: cfg.Persist, owner: cfg.Owner, group: cfg.Group}
	q, err := openKQueue("TUN", tunFlag, cfg.Name, mode, opts, offloadOpts{disable: cfg.DisableOffload, coalesceUDP: cfg.CoalesceUDP}, &t.drops, func(q queue) error {
		var err error
		t.mtu, err = applyMTU(q.name, cfg.MTU)
		return err
	})
	if err != nil {
		return nil, err
	}
	t.q = q
	return t, nil
}

func validateTUN(cfg TUNConfig, nb Neighbors) error {
	switch {
	case nb == nil:
		return fmt.Errorf("tun: TUN %q needs a neighbour table to address frames; pass a non-nil Neighbors", cfg.Name)
	case cfg.MTU < 0:
		return fmt.Errorf("tun: TUN %q: MTU %d is negative; use 0 to keep the device's MTU", cfg.Name, cfg.MTU)
	case packet.IsZero(cfg.MAC) || packet.IsMulticast(cfg.MAC):
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
func RandomMAC() (packet.MAC, error) {
	var m packet.MAC
	if _, err := rand.Read(m[:]); err != nil {
		return packet.MAC{}, fmt.Errorf("tun: random MAC: %w", err)
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
		n, err := t.q.read(bufs, sizes, offset+packet.EthHeaderLen, false)
		if err != nil {
			return 0, err
		}
		if k := t.frameAll(bufs[:n], sizes, offset); k > 0 {
			return k, nil
		}
	}
}

// TryRead is Read without waiting: it returns what is queued, possibly
// nothing.
func (t *TUN) TryRead(bufs [][]byte, sizes []int, offset int) (int, error) {
	n, err := t.q.read(bufs, sizes, offset+packet.EthHeaderLen, true)
	if err != nil {
		return 0, err
	}
	return t.frameAll(bufs[:n], sizes, offset), nil
}

// WaitReadable blocks until a Read would not block (though the packets it
// finds may all be dropped, leaving Read to wait again).
func (t *TUN) WaitReadable() error { return t.q.waitReadable() }

// frameAll puts an Ethernet header in front of each packet and compacts the
// batch over packets that are not IP (which a TUN should never hand us, so
// the copy costs nothing in practice). It returns how many frames remain.
func (t *TUN) frameAll(bufs [][]byte, sizes []int, offset int) int {
	var memo neighMemo // a batch is read at one moment: a neighbour changing during it is as if it changed just after
	k := 0
	for i := range bufs {
		end := offset + packet.EthHeaderLen + sizes[i]
		if end > len(bufs[i]) {
			// Segmentation copies what fits and reports the full size.
			t.drops.add(DropTruncated, 1)
			continue
		}
		if r := t.framer.frameMemo(bufs[i][offset:end], &memo); r != DropNone {
			t.drops.add(r, 1)
			continue
		}
		if k != i {
			copy(bufs[k][offset:], bufs[i][offset:end])
		}
		sizes[k] = packet.EthHeaderLen + sizes[i]
		k++
	}
	return k
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
func (t *TUN) Write(bufs [][]byte, offset int) (int, error) { return t.write(bufs, offset, false) }

// WriteVerified is Write for frames whose integrity the transport has
// already verified end to end: checksums are not verified before
// coalescing, and the kernel is told not to verify them either (as kernel
// WireGuard does for what it decrypts). Without offloads it is Write.
func (t *TUN) WriteVerified(bufs [][]byte, offset int) (int, error) {
	return t.write(bufs, offset, true)
}

func (t *TUN) write(bufs [][]byte, offset int, trusted bool) (int, error) {
	if t.q.closed.Load() {
		return 0, ErrClosed
	}
	wp := t.wbufs.Get().(*[][]byte)
	w := (*wp)[:0]
	for _, b := range bufs {
		if r := classifyFrame(b[offset:], t.framer.mac); r != DropNone {
			t.drops.add(r, 1)
			continue
		}
		w = append(w, b)
	}
	var err error
	if len(w) > 0 {
		_, err = t.q.write(w, offset+packet.EthHeaderLen, trusted)
	}
	clear(w) // do not keep the caller's buffers
	*wp = w[:0]
	t.wbufs.Put(wp)
	if err != nil {
		return 0, err
	}
	return len(bufs), nil
}

// Drops returns how many frames and packets the device dropped, by reason
// (DropReason.String labels, every reason present, zeros included). Write
// drops runt, arp, ethertype, dst_mac and ip_version; Read drops not_ip,
// truncated and bad_offload.
func (t *TUN) Drops() map[string]uint64 { return t.drops.snapshot() }

// Offloads reports which offloads the device uses.
func (t *TUN) Offloads() Offloads { return t.q.offloads }

// BatchSize implements Device.
func (t *TUN) BatchSize() int { return kqBatchSize }

// MTU implements Device: the MTU in effect when the device was opened.
func (t *TUN) MTU() int { return t.mtu }

// Name implements Device.
func (t *TUN) Name() string { return t.q.name }

// HardwareAddr implements Device: the configured MAC.
func (t *TUN) HardwareAddr() packet.MAC { return t.framer.mac }

// Close implements Device; see TAP.Close.
func (t *TUN) Close() error { return t.q.close() }
