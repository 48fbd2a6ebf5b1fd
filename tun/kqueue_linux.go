package tun

// The I/O core shared by TAP and TUN: one non-blocking queue descriptor in
// the Go runtime poller.
//
// Read blocks in the poller for the first frame, then drains whatever else
// the kernel has queued with raw non-blocking reads until EAGAIN or a full
// batch, so one wakeup yields a batch (a TUN without this returns one
// packet per wakeup, which is what kept small packets slow). Reads are
// serialised by readMu; the batch in progress lives in the queue (guarded
// by readMu) so the callback handed to the poller is bound once and
// nothing allocates per packet.
//
// Writes are one write(2) per frame (or per coalesced super-frame) and
// take no lock of ours; each Write's coalescing scratch comes from a pool.
//
// Offloads (unless disabled): the queue is opened with IFF_VNET_HDR and
// asks the kernel for TCP segmentation and checksum offload, and UDP
// segmentation where the kernel has it (Linux 6.2+). The kernel then
// hands over super-frames of up to 64 KiB that Read cuts into MTU-sized
// frames (vnet_read.go, vnet_split.go), and Write coalesces the segments
// of a flow back into super-frames (vnet_gro.go). What the kernel does
// not grant is simply not used.

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// kqBatchSize is the most frames one Read returns.
// With offloads each frame may be a 64 KiB super-frame, and the forwarder
// keeps a buffer that size per slot, resident for good once used: 32
// slots are 2 MiB per network and move 2 MB per read, which kept the plain
// path's throughput where 64 had it (docs/PERFORMANCE.md, "Memory").
const kqBatchSize = 32

// kqueue is an open TAP or TUN queue.
type kqueue struct {
	kind string // "TAP" or "TUN", for messages
	name string
	eth  bool // frames start with an Ethernet header
	file *os.File
	rc   syscall.RawConn

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error

	readMu   sync.Mutex
	rd       readBatch             // guarded by readMu
	drain    func(fd uintptr) bool // q.drainLocked, bound once
	readable func(fd uintptr) bool // q.readableLocked, bound once
	pollfd   [1]unix.PollFd        // guarded by readMu
	iov      [2]unix.Iovec         // guarded by readMu
	vr       *vnetReader           // guarded by readMu; nil without offloads

	offloads    Offloads
	coalesceUDP bool      // Write coalesces UDP datagrams too (needs USO)
	gro         sync.Pool // *groBatch, one per Write in progress
	drops       *dropCounters
}

// readBatch is the state of one Read, shared with the poller callback.
type readBatch struct {
	bufs     [][]byte
	sizes    []int
	offset   int
	n        int
	err      error
	nonblock bool // return at EAGAIN even with nothing read
}

// offloadOpts are a device config's offload switches.
type offloadOpts struct {
	disable     bool // no virtio-net header at all
	coalesceUDP bool // coalesce UDP datagrams on write where the kernel takes them
}

// openKQueue opens a queue of kind ("TAP" or "TUN", flags IFF_TAP or
// IFF_TUN), with offloads unless oo.disable. A kernel that refuses the
// virtio-net header gets a queue without it. setup runs on the raw
// descriptor before it goes to the poller (MTU, MAC); if it fails the queue
// is abandoned.
func openKQueue(kind string, flags uint16, name string, mode openMode, opts deviceOpts, oo offloadOpts,
	drops *dropCounters, setup func(q queue) error) (*kqueue, error) {
	flags |= unix.IFF_NO_PI
	var q queue
	var err error
	vnet := !oo.disable
	if vnet {
		q, err = openQueue(name, flags|unix.IFF_VNET_HDR, mode, opts)
		vnet = err == nil
	}
	if !vnet {
		if q, err = openQueue(name, flags, mode, opts); err != nil {
			return nil, err
		}
	}
	k := &kqueue{kind: kind, name: q.name, eth: flags&unix.IFF_TAP != 0, drops: drops}
	if vnet {
		k.offloads = probeOffloads(q.fd)
		k.coalesceUDP = oo.coalesceUDP && k.offloads.USO
		k.vr = newVnetReader(k.eth, drops)
		k.gro.New = func() any { return newGROBatch(kqBatchSize) }
	}
	if err := setup(q); err != nil {
		q.abandon()
		return nil, err
	}
	// The descriptor is non-blocking, so the runtime poller takes it.
	k.file = os.NewFile(uintptr(q.fd), CloneDevice)
	if k.rc, err = k.file.SyscallConn(); err != nil {
		k.file.Close()
		return nil, fmt.Errorf("tun: %s %q: %w", kind, q.name, err)
	}
	k.drain = k.drainLocked
	k.readable = k.readableLocked
	return k, nil
}

// read reads up to min(len(bufs), kqBatchSize) frames (Ethernet frames for
// a TAP, IP packets for a TUN) at offset, blocking for the first unless
// nonblock.
func (k *kqueue) read(bufs [][]byte, sizes []int, offset int, nonblock bool) (int, error) {
	k.readMu.Lock()
	defer k.readMu.Unlock()
	if k.closed.Load() {
		return 0, ErrClosed
	}
	max := min(len(bufs), len(sizes), kqBatchSize)
	if max == 0 {
		return 0, nil
	}
	k.rd = readBatch{bufs: bufs[:max], sizes: sizes, offset: offset, nonblock: nonblock}
	err := k.rc.Read(k.drain)
	n, rerr := k.rd.n, k.rd.err
	k.rd = readBatch{} // do not keep the caller's buffers
	if err == nil {
		err = rerr
	}
	if n > 0 || err == nil {
		// Frames already read are delivered; a persistent error shows again
		// on the next Read. Nothing and no error: a non-blocking read found
		// nothing queued.
		return n, nil
	}
	return 0, k.readErr(err)
}

// drainLocked is the poller callback: it reads frames until the batch is full
// or the kernel has no more, and asks the poller to wait only while it has
// nothing. Must hold readMu.
func (k *kqueue) drainLocked(fd uintptr) bool {
	b := &k.rd
	for b.n < len(b.bufs) {
		if k.vr != nil && k.vr.pending {
			b.n += k.vr.emitPending(b.bufs[b.n:], b.sizes[b.n:], b.offset)
			continue
		}
		if k.vr != nil {
			dst, inPlace := k.vr.target(b.bufs[b.n], b.offset)
			m, err := k.readv(fd, dst, inPlace)
			switch {
			case err == nil && !inPlace && m > len(dst):
				k.drops.add(DropTruncated, 1) // the kernel reports what did not fit
			case err == nil && m > len(dst):
				b.n += k.vr.consume(k.vr.spilled(dst, m), false, b.bufs[b.n:], b.sizes[b.n:], b.offset)
			case err == nil:
				b.n += k.vr.consume(dst[:m], inPlace, b.bufs[b.n:], b.sizes[b.n:], b.offset)
			case err == unix.EINTR:
			case err == unix.EAGAIN:
				return b.n > 0 || b.nonblock
			default:
				b.err = err
				return true
			}
			continue
		}
		dst := b.bufs[b.n][b.offset:]
		m, err := unix.Read(int(fd), dst)
		switch {
		case err == nil && m > len(dst):
			k.drops.add(DropTruncated, 1) // the kernel reports what did not fit
		case err == nil:
			b.sizes[b.n] = m
			b.n++
		case err == unix.EINTR:
		case err == unix.EAGAIN:
			return b.n > 0 || b.nonblock
		default:
			b.err = err
			return true
		}
	}
	return true
}

// readv reads one frame into dst and, when the read is in place, on into
// the reader's own buffer (one system call either way), so a frame longer
// than dst is not cut. It returns the frame's full length. Must hold
// readMu.
func (k *kqueue) readv(fd uintptr, dst []byte, spill bool) (int, error) {
	iov := k.iov[:1]
	iov[0].Base = &dst[0]
	iov[0].SetLen(len(dst))
	if spill {
		iov = k.iov[:2]
		iov[1].Base = &k.vr.own[0]
		iov[1].SetLen(len(k.vr.own))
	}
	n, _, errno := unix.Syscall(unix.SYS_READV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	k.iov[0].Base, k.iov[1].Base = nil, nil // do not keep the caller's buffer
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// waitReadable blocks until a read would return something: the kernel has
// a frame queued, or segments of a super-frame are still to come.
func (k *kqueue) waitReadable() error {
	k.readMu.Lock()
	defer k.readMu.Unlock()
	if k.closed.Load() {
		return ErrClosed
	}
	if k.vr != nil && k.vr.pending {
		return nil
	}
	if err := k.rc.Read(k.readable); err != nil {
		return k.readErr(err)
	}
	return nil
}

// readableLocked is the poller callback of waitReadable: it looks without
// reading, so the poller waits only while nothing is queued (the poller
// is edge-triggered, so an arrival before the wait must be seen here).
// Must hold readMu.
func (k *kqueue) readableLocked(fd uintptr) bool {
	k.pollfd[0] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
	for {
		n, err := unix.Poll(k.pollfd[:], 0)
		if err == unix.EINTR {
			continue
		}
		// An error or a hang-up is for the next read to report.
		return err != nil || n > 0
	}
}

func (k *kqueue) readErr(err error) error {
	switch {
	case k.closed.Load(), errors.Is(err, os.ErrClosed):
		return ErrClosed
	case errors.Is(err, unix.EBADFD):
		return fmt.Errorf("tun: %s %q was deleted while in use: %w", k.kind, k.name, ErrClosed)
	}
	return fmt.Errorf("tun: read from %s %q: %w", k.kind, k.name, err)
}

// write writes each bufs[i][offset:], coalescing first when the queue has
// offloads; trusted frames skip checksum verification. It returns how many
// frames went in (merged ones included) and the first error.
func (k *kqueue) write(bufs [][]byte, offset int, trusted bool) (int, error) {
	if k.vr == nil {
		return k.writeFrames(bufs, offset, nil)
	}
	if offset < vnetHdrLen {
		return k.writeWithHeader(bufs, offset)
	}
	g := k.gro.Get().(*groBatch)
	if len(g.merged) < len(bufs) {
		g.merged = make([]bool, len(bufs))
	}
	g.coalesce(bufs, offset, k.eth, k.coalesceUDP, trusted)
	g.finish(bufs, offset, trusted)
	n, err := k.writeFrames(bufs, offset-vnetHdrLen, g.merged)
	k.gro.Put(g)
	return n, err
}

// writeFrames writes each bufs[i][offset:] except those marked in skip
// (merged into an earlier frame, and counted as written).
func (k *kqueue) writeFrames(bufs [][]byte, offset int, skip []bool) (int, error) {
	n := 0
	var first error
	for i, b := range bufs {
		if skip != nil && skip[i] {
			n++
			continue
		}
		_, err := k.file.Write(b[offset:])
		if err == nil {
			n++
			continue
		}
		if k.closed.Load() || errors.Is(err, os.ErrClosed) {
			return n, ErrClosed
		}
		if first == nil {
			first = fmt.Errorf("tun: write %d-byte frame to %s %q: %w", len(b)-offset, k.kind, k.name, err)
		}
	}
	return n, first
}

// writeWithHeader writes frames that have no room for a virtio-net header
// in front, gathering an empty header in with writev(2). Only callers that
// leave no headroom take this path.
func (k *kqueue) writeWithHeader(bufs [][]byte, offset int) (int, error) {
	var hdr [vnetHdrLen]byte
	n := 0
	var first error
	err := k.rc.Write(func(fd uintptr) bool {
		for _, b := range bufs[n:] {
			_, err := unix.Writev(int(fd), [][]byte{hdr[:], b[offset:]})
			if err == unix.EAGAIN {
				return false
			}
			if err != nil && first == nil {
				first = fmt.Errorf("tun: write %d-byte frame to %s %q: %w", len(b)-offset, k.kind, k.name, err)
			}
			n++
		}
		return true
	})
	if err != nil {
		if k.closed.Load() || errors.Is(err, os.ErrClosed) {
			return n, ErrClosed
		}
		return n, fmt.Errorf("tun: write to %s %q: %w", k.kind, k.name, err)
	}
	return n, first
}

// close closes the descriptor once; it unblocks a pending read.
func (k *kqueue) close() error {
	k.closeOnce.Do(func() {
		k.closed.Store(true)
		if err := k.file.Close(); err != nil {
			k.closeErr = fmt.Errorf("tun: close %s %q: %w", k.kind, k.name, err)
		}
	})
	return k.closeErr
}
