package tun

import (
	"fmt"

	"meshnet.dev/meshnet/internal/packet"
)

// Read implements Device. It blocks for the first frame the stack sends, then
// takes whatever else is queued, up to len(bufs) and BatchSize. Frames are
// addressed as by the TUN device: source HardwareAddr; destination
// broadcast, the multicast MAC of the group, the neighbour's MAC, or all-zero
// for an unknown neighbour. bufs[i] needs room for offset+EthHeaderLen+MTU
// bytes; a frame that does not fit is dropped and counted as truncated.
func (d *Netstack) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	return readBlocking(d, bufs, sizes, offset)
}

// WaitReadable implements Device: it blocks until the stack has sent a
// frame (it takes it, to be read next) or the device is closed.
func (d *Netstack) WaitReadable() error { return d.q.wait(d.ready, d.done) }

// TryRead implements Device: Read without waiting, possibly nothing.
func (d *Netstack) TryRead(bufs [][]byte, sizes []int, offset int) (int, error) {
	if isClosed(d.done) {
		return 0, ErrClosed
	}
	limit := min(len(bufs), len(sizes), netstackBatchSize)
	d.q.mu.Lock()
	defer d.q.mu.Unlock()
	n := 0
	for n < limit {
		f, ok := d.q.nextLocked(d.ready)
		if !ok {
			break
		}
		if dst := bufs[n][offset:]; len(dst) >= f.n {
			sizes[n] = copy(dst, d.bufs[f.idx][:f.n])
			n++
		} else {
			d.drops.add(DropTruncated, 1)
		}
		d.free <- f.idx // never blocks: free holds every index
	}
	return n, nil
}

// Write implements Device. Frames carrying IPv4 or IPv6 (matching the
// EtherType) to HardwareAddr, broadcast or a multicast MAC go into the stack
// as IP packets; the rest are dropped and counted by reason (see Drops).
// Dropped frames count as written. The stack copies what it takes, so the
// caller keeps its buffers. Write is safe for concurrent use.
func (d *Netstack) Write(bufs [][]byte, offset int) (int, error) {
	select {
	case <-d.done:
		return 0, ErrClosed
	default:
	}
	for i, b := range bufs {
		if r := classifyFrame(b[offset:], d.framer.mac); r != DropNone {
			d.drops.add(r, 1)
			continue
		}
		if err := d.inject(b[offset+packet.EthHeaderLen:]); err != nil {
			return i, fmt.Errorf("tun: netstack %q: inject a packet: %w", d.name, err)
		}
	}
	return len(bufs), nil
}

// Net returns the stack's sockets API: dial, listen and ping inside the
// overlay from this process. Its connections fail once the device is closed.
func (d *Netstack) Net() *StackNet { return d.net }

// Drops returns how many frames and packets the device dropped, by reason,
// as TUN.Drops. Write drops runt, arp, ethertype, dst_mac and ip_version;
// Read drops not_ip and truncated.
func (d *Netstack) Drops() map[string]uint64 { return d.drops.snapshot() }

// BatchSize implements Device.
func (d *Netstack) BatchSize() int { return netstackBatchSize }

// MTU implements Device.
func (d *Netstack) MTU() int { return d.mtu }

// Name implements Device: the configured descriptive name.
func (d *Netstack) Name() string { return d.name }

// HardwareAddr implements Device: the configured MAC.
func (d *Netstack) HardwareAddr() packet.MAC { return d.framer.mac }

// Close implements Device. It shuts the stack down (every connection made
// through Net fails from then on), makes pending and later Reads and Writes
// return ErrClosed, and returns once the stack's goroutines have stopped.
// Packets the stack emits while it shuts down, and senders waiting for the
// data path to take a frame, are dropped, so Close never waits for a reader.
func (d *Netstack) Close() error {
	d.closeOnce.Do(func() {
		close(d.done)
		d.closeStack()
	})
	return nil
}
