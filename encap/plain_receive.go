package encap

// Receive path of the plain transport.
//
// One goroutine per socket (IPv4 and IPv6), owned by the Plain and stopped by
// Close (closing the bind makes the blocked read return net.ErrClosed). Each
// goroutine owns buffers of MaxPacket bytes and reads into them at offset
// Headroom, so a GRO-coalesced 64 KiB read fits and the receiver can prepend
// headers in place: one buffer until the first datagram arrives, then
// BatchSize of them, so a node whose networks are all encrypted never holds
// a plain batch (2 MiB resident per socket otherwise). Empty datagrams are
// skipped; the rest are handed to the Receiver in one batch and the buffers
// reused once it returns.

import (
	"errors"
	"net"
	"net/netip"
	"time"

	"golang.zx2c4.com/wireguard/conn"
)

const (
	// receiveBackoffMin and receiveBackoffMax bound the pause after a failed
	// read, so a socket that keeps failing does not spin a core.
	receiveBackoffMin = time.Millisecond
	receiveBackoffMax = 250 * time.Millisecond
)

func (p *Plain) receive(fn conn.ReceiveFunc, r Receiver) {
	defer p.wg.Done()
	var rb recvBatch
	rb.grow(1)
	backoff := time.Duration(0)

	for {
		bufs, pkts, sizes, eps := rb.bufs, rb.pkts, rb.sizes, rb.eps
		out, outSizes, from := rb.out, rb.outSizes, rb.from
		got, err := fn(pkts, sizes, eps)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || p.closed.Load() {
				return
			}
			backoff = min(max(2*backoff, receiveBackoffMin), receiveBackoffMax)
			if !p.receiveFailed(err, backoff) {
				return
			}
			continue
		}
		backoff = 0
		k, bytes := 0, 0
		for i := 0; i < got; i++ {
			ap, ok := endpointAddr(eps[i])
			eps[i] = nil
			if sizes[i] == 0 || !ok {
				continue
			}
			out[k] = bufs[i]
			outSizes[k] = sizes[i]
			from[k] = ap
			bytes += sizes[i]
			k++
		}
		if k == 0 {
			continue
		}
		p.stats.packetsReceived.Add(uint64(k))
		p.stats.bytesReceived.Add(uint64(bytes))
		r.Receive(out[:k], outSizes[:k], Headroom, from[:k])
		clear(out[:k])
		if len(bufs) < p.batch {
			rb.grow(p.batch) // traffic: read whole batches from now on
		}
	}
}

// recvBatch is a receive goroutine's buffers and scratch, all of one length.
type recvBatch struct {
	bufs     [][]byte // whole buffers, headroom included
	pkts     [][]byte // the same buffers from Headroom on
	sizes    []int
	eps      []conn.Endpoint
	out      [][]byte
	outSizes []int
	from     []netip.AddrPort
}

// grow makes the batch n long, keeping the buffers it has.
func (b *recvBatch) grow(n int) {
	have := len(b.bufs)
	b.bufs = append(b.bufs, make([][]byte, n-have)...)
	b.pkts = append(b.pkts, make([][]byte, n-have)...)
	for i := have; i < n; i++ {
		b.bufs[i] = make([]byte, MaxPacket)
		b.pkts[i] = b.bufs[i][Headroom:]
	}
	b.sizes, b.eps = make([]int, n), make([]conn.Endpoint, n)
	b.out, b.outSizes, b.from = make([][]byte, n), make([]int, n), make([]netip.AddrPort, n)
}

// receiveFailed counts and logs a failed read, then pauses for backoff. It
// reports false if the transport was closed meanwhile.
func (p *Plain) receiveFailed(err error, backoff time.Duration) bool {
	count := p.stats.receiveErrors.Add(1)
	// Log the 1st, 2nd, 4th, 8th... failure: a failing socket is visible
	// without flooding the log.
	if count&(count-1) == 0 {
		p.log.Warn("reading from UDP socket failed", "err", err, "failures", count)
	}
	t := time.NewTimer(backoff)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-p.closing:
		return false
	}
}
