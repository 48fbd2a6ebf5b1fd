package encap

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
)

// channelPacket is one packet in flight: its data is (*buf)[Headroom:].
type channelPacket struct {
	buf  *[]byte
	from netip.AddrPort
}

// ChannelTransport is a Transport on a ChannelNetwork. Send copies packets
// and queues them at the destination; a goroutine per transport, started by
// Start and stopped by Close, hands them to the Receiver in batches.
type ChannelTransport struct {
	net     *ChannelNetwork
	addr    netip.AddrPort
	secure  bool
	queue   chan channelPacket
	stats   counters
	closed  atomic.Bool
	closing chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex // guards started and the closing transition
	started bool
}

var _ Transport = (*ChannelTransport)(nil)

// Addr is the address the transport is registered at.
func (t *ChannelTransport) Addr() netip.AddrPort { return t.addr }

// BatchSize is the most packets Send accepts and Receive delivers at once.
func (t *ChannelTransport) BatchSize() int { return channelBatchSize }

// Secure reports the value given to NewTransport.
func (t *ChannelTransport) Secure() bool { return t.secure }

// LocalPort is the port of the transport's address.
func (t *ChannelTransport) LocalPort() uint16 { return t.addr.Port() }

// Stats returns the transport's counters. Dropped counts packets this
// transport sent that were lost, blocked or addressed to nobody, and
// packets for it that found its queue full.
func (t *ChannelTransport) Stats() Stats { return t.stats.snapshot() }

// Start delivers queued and future packets to r.
func (t *ChannelTransport) Start(r Receiver) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := startOnce("channel", r, &t.closed, &t.started); err != nil {
		return err
	}
	t.wg.Add(1)
	go t.run(r)
	return nil
}

// Send copies each bufs[i][offset:] and queues it at dst, as from this
// transport's address. Like UDP it does not report packets that are lost,
// blocked, unaddressable or dropped at a full queue; Stats counts them.
func (t *ChannelTransport) Send(bufs [][]byte, offset int, dst netip.AddrPort) error {
	if len(bufs) > channelBatchSize {
		return fmt.Errorf("channel transport: %d packets in one Send, at most BatchSize (%d): split the batch", len(bufs), channelBatchSize)
	}
	if t.closed.Load() {
		return ErrClosed
	}
	for i, b := range bufs {
		if offset < 0 || offset > len(b) {
			t.stats.sendErrors.Add(1)
			return fmt.Errorf("channel transport: packet %d is %d bytes, shorter than offset %d", i, len(b), offset)
		}
	}
	to := t.net.route(t.addr, dst)
	if to == nil {
		t.stats.dropped.Add(uint64(len(bufs)))
		return nil
	}
	var sent, bytes, dropped uint64
	for _, b := range bufs {
		if t.net.lost() {
			dropped++
			continue
		}
		if !to.enqueue(t.net.packet(b[offset:], t.addr)) {
			continue // counted by the receiver
		}
		sent++
		bytes += uint64(len(b) - offset)
	}
	t.stats.packetsSent.Add(sent)
	t.stats.bytesSent.Add(bytes)
	if dropped > 0 {
		t.stats.dropped.Add(dropped)
	}
	return nil
}

// enqueue queues p for delivery, or drops it if t is closed or its queue is
// full.
func (t *ChannelTransport) enqueue(p channelPacket) bool {
	if !t.closed.Load() {
		select {
		case t.queue <- p:
			return true
		default:
		}
	}
	t.stats.dropped.Add(1)
	t.net.release(p.buf)
	return false
}

// run delivers queued packets in batches until Close.
func (t *ChannelTransport) run(r Receiver) {
	defer t.wg.Done()
	held := make([]*[]byte, channelBatchSize)
	bufs := make([][]byte, channelBatchSize)
	sizes := make([]int, channelBatchSize)
	from := make([]netip.AddrPort, channelBatchSize)
	for {
		var p channelPacket
		select {
		case <-t.closing:
			return
		case p = <-t.queue:
		}
		k, bytes := 0, 0
		for {
			held[k], bufs[k], from[k] = p.buf, *p.buf, p.from
			sizes[k] = len(*p.buf) - Headroom
			bytes += sizes[k]
			k++
			if k == channelBatchSize {
				break
			}
			select {
			case p = <-t.queue:
				continue
			default:
			}
			break
		}
		t.stats.packetsReceived.Add(uint64(k))
		t.stats.bytesReceived.Add(uint64(bytes))
		r.Receive(bufs[:k], sizes[:k], Headroom, from[:k])
		for i := range k {
			t.net.release(held[i])
			held[i], bufs[i] = nil, nil
		}
	}
}

// Close unregisters the transport, stops its goroutine and waits for it.
// Packets still queued are discarded.
func (t *ChannelTransport) Close() error {
	t.mu.Lock()
	if t.closed.Swap(true) {
		t.mu.Unlock()
		return nil
	}
	close(t.closing)
	t.mu.Unlock()
	t.net.unregister(t)
	t.wg.Wait()
	return nil
}

// Borrow lends own, whose packets Return sends (copies) with Send.
func (t *ChannelTransport) Borrow(b *Batch, own [][]byte) bool {
	if t.closed.Load() {
		return false
	}
	b.Lend(own, t)
	return true
}
