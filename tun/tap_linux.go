package tun

// TAP data path. Read blocks in the Go runtime poller for the first frame,
// then drains whatever else the kernel has queued with raw non-blocking reads
// until EAGAIN, so one wakeup yields a batch. Reads are serialised by readMu;
// the batch in progress lives in the TAP (guarded by readMu) so the callback
// handed to the poller is bound once and nothing allocates per packet.
// Writes are one write(2) per frame and take no lock of ours.

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// tapBatchSize is the most frames one TAP.Read returns.
const tapBatchSize = 128

// TAP is a Linux TAP device: the kernel hands it whole Ethernet frames.
type TAP struct {
	file *os.File
	rc   syscall.RawConn
	name string
	mtu  int
	mac  MAC

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error

	readMu sync.Mutex
	rd     tapBatch              // guarded by readMu
	drain  func(fd uintptr) bool // t.drainLocked, bound once
}

// tapBatch is the state of one Read, shared with the poller callback.
type tapBatch struct {
	bufs   [][]byte
	sizes  []int
	offset int
	n      int
	err    error
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
	if cfg.MAC[0]&1 != 0 {
		return nil, fmt.Errorf("tun: TAP %q: MAC %s is a group address; a device needs a unicast MAC", cfg.Name, formatMAC(cfg.MAC))
	}
	q, err := openQueue(cfg.Name, unix.IFF_TAP|unix.IFF_NO_PI, mode, deviceOpts{persist: cfg.Persist, owner: cfg.Owner, group: cfg.Group})
	if err != nil {
		return nil, err
	}
	t := &TAP{name: q.name}
	if t.mtu, err = applyMTU(q.name, cfg.MTU); err != nil {
		q.abandon()
		return nil, err
	}
	if t.mac, err = applyMAC(q.name, cfg.MAC); err != nil {
		q.abandon()
		return nil, err
	}
	// The descriptor is non-blocking, so the runtime poller takes it.
	t.file = os.NewFile(uintptr(q.fd), cloneDevice)
	if t.rc, err = t.file.SyscallConn(); err != nil {
		t.file.Close()
		return nil, fmt.Errorf("tun: TAP %q: %w", q.name, err)
	}
	t.drain = t.drainLocked
	return t, nil
}

// Read implements Device. It returns at most min(len(bufs), BatchSize())
// frames. bufs[i] needs room for offset+EthHeaderLen+MTU bytes (plus 4 for a
// VLAN tag); the kernel cuts longer frames short.
func (t *TAP) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	t.readMu.Lock()
	defer t.readMu.Unlock()
	if t.closed.Load() {
		return 0, ErrClosed
	}
	max := min(len(bufs), len(sizes), tapBatchSize)
	if max == 0 {
		return 0, nil
	}
	t.rd = tapBatch{bufs: bufs[:max], sizes: sizes, offset: offset}
	err := t.rc.Read(t.drain)
	n, rerr := t.rd.n, t.rd.err
	t.rd = tapBatch{} // do not keep the caller's buffers
	if err == nil {
		err = rerr
	}
	if n > 0 {
		// Frames already read are delivered; a persistent error shows again
		// on the next Read.
		return n, nil
	}
	return 0, t.readErr(err)
}

// drainLocked is the poller callback: it reads frames until the batch is full
// or the kernel has no more, and asks the poller to wait only while it has
// nothing. Must hold readMu.
func (t *TAP) drainLocked(fd uintptr) bool {
	b := &t.rd
	for b.n < len(b.bufs) {
		m, err := unix.Read(int(fd), b.bufs[b.n][b.offset:])
		switch err {
		case nil:
			b.sizes[b.n] = m
			b.n++
		case unix.EINTR:
		case unix.EAGAIN:
			return b.n > 0
		default:
			b.err = err
			return true
		}
	}
	return true
}

func (t *TAP) readErr(err error) error {
	switch {
	case t.closed.Load(), errors.Is(err, os.ErrClosed):
		return ErrClosed
	case errors.Is(err, unix.EBADFD):
		return fmt.Errorf("tun: TAP %q was deleted while in use: %w", t.name, ErrClosed)
	}
	return fmt.Errorf("tun: read from TAP %q: %w", t.name, err)
}

// Write implements Device: one write(2) per frame. A frame the kernel refuses
// does not stop the rest; Write returns how many frames went in and the
// first error.
func (t *TAP) Write(bufs [][]byte, offset int) (int, error) {
	n := 0
	var first error
	for _, b := range bufs {
		_, err := t.file.Write(b[offset:])
		if err == nil {
			n++
			continue
		}
		if t.closed.Load() || errors.Is(err, os.ErrClosed) {
			return n, ErrClosed
		}
		if first == nil {
			first = fmt.Errorf("tun: write %d-byte frame to TAP %q: %w", len(b)-offset, t.name, err)
		}
	}
	return n, first
}

// BatchSize implements Device.
func (t *TAP) BatchSize() int { return tapBatchSize }

// MTU implements Device: the MTU in effect when the device was opened.
func (t *TAP) MTU() int { return t.mtu }

// Name implements Device.
func (t *TAP) Name() string { return t.name }

// HardwareAddr implements Device: the device's MAC as the kernel has it, the
// source of every frame the kernel sends through it.
func (t *TAP) HardwareAddr() MAC { return t.mac }

// Close implements Device. It unblocks a pending Read. A non-persistent device
// disappears; a persistent one stays for the next open.
func (t *TAP) Close() error {
	t.closeOnce.Do(func() {
		t.closed.Store(true)
		if err := t.file.Close(); err != nil {
			t.closeErr = fmt.Errorf("tun: close TAP %q: %w", t.name, err)
		}
	})
	return t.closeErr
}
