package encap

// Receive path of the plain transport.
//
// One goroutine per socket (IPv4 and IPv6), owned by the Plain and stopped by
// Close (closing the bind makes the blocked read return net.ErrClosed). Each
// goroutine owns BatchSize buffers of MaxPacket bytes and reads into them at
// offset Headroom, so a GRO-coalesced 64 KiB read fits and the receiver can
// prepend headers in place. Empty datagrams are skipped; the rest are handed
// to the Receiver in one batch and the buffers reused once it returns.

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
	n := p.batch
	bufs := make([][]byte, n) // whole buffers, headroom included
	pkts := make([][]byte, n) // the same buffers from Headroom on
	for i := range bufs {
		bufs[i] = make([]byte, MaxPacket)
		pkts[i] = bufs[i][Headroom:]
	}
	sizes := make([]int, n)
	eps := make([]conn.Endpoint, n)
	out := make([][]byte, n)
	outSizes := make([]int, n)
	from := make([]netip.AddrPort, n)
	backoff := time.Duration(0)

	for {
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
	}
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
