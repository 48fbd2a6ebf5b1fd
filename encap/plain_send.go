package encap

// Send path of the plain transport.
//
// Send runs on the caller's goroutine (any number at once): it looks up the
// cached endpoint for dst (read lock, write lock only for a new dst), slices
// the packets out of the caller's buffers into a pooled scratch slice and
// hands them to the bind, which sends equal-sized runs as GSO datagrams
// gathered straight from the packets, with sendmmsg. Nothing here
// allocates once dst's endpoint is cached.

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"golang.zx2c4.com/wireguard/conn"
)

// maxCachedEndpoints bounds an endpoint cache (the plain transport's, and
// the bind's for senders); addresses come from gossip or the network, so
// their number is not ours to trust. A full cache is emptied, which costs
// one allocation per address afterwards.
const maxCachedEndpoints = 4096

// endpointCache maps destinations to bind endpoints so Send does not build
// one per call.
type endpointCache struct {
	mu  sync.RWMutex
	eps map[netip.AddrPort]conn.Endpoint
}

func (c *endpointCache) get(dst netip.AddrPort) conn.Endpoint {
	c.mu.RLock()
	ep := c.eps[dst]
	c.mu.RUnlock()
	if ep != nil {
		return ep
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ep = c.eps[dst]; ep != nil {
		return ep
	}
	if len(c.eps) >= maxCachedEndpoints {
		clear(c.eps)
	}
	ep = newBindEndpoint(dst)
	c.eps[dst] = ep
	return ep
}

// Send transmits each bufs[i][offset:] to dst in as few system calls as the
// kernel allows. See Transport.Send for what it may overwrite.
func (p *Plain) Send(bufs [][]byte, offset int, dst netip.AddrPort) error {
	if len(bufs) == 0 {
		return nil
	}
	if len(bufs) > p.batch {
		return fmt.Errorf("plain transport: %d packets in one Send, at most BatchSize (%d): split the batch", len(bufs), p.batch)
	}
	if p.closed.Load() {
		return ErrClosed
	}
	// An IPv4-mapped destination must leave through the IPv4 socket: the
	// IPv6 one is v6-only.
	dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	if !dst.Addr().IsValid() || dst.Port() == 0 {
		return fmt.Errorf("plain transport: invalid destination %s: need an IP address and a non-zero port", dst)
	}
	ep := p.eps.get(dst)

	sp := p.scratch.Get().(*[][]byte)
	pkts := (*sp)[:len(bufs)]
	n := 0
	for i, b := range bufs {
		if offset < 0 || offset > len(b) {
			clear(pkts)
			p.scratch.Put(sp)
			return fmt.Errorf("plain transport: packet %d is %d bytes, shorter than offset %d", i, len(b), offset)
		}
		pkt := b[offset:]
		if p.noOffload {
			// Without spare capacity a bind that coalesces by copying (the
			// standard one, off Linux) has nothing to coalesce into.
			pkt = pkt[:len(pkt):len(pkt)]
		}
		pkts[i] = pkt
		n += len(pkt)
	}
	err := p.bind.Send(pkts, ep)
	clear(pkts)
	p.scratch.Put(sp)

	if err != nil {
		err = p.sendError(err, len(bufs), dst)
	}
	if err != nil {
		p.stats.sendErrors.Add(1)
		return err
	}
	p.stats.packetsSent.Add(uint64(len(bufs)))
	p.stats.bytesSent.Add(uint64(n))
	return nil
}

// sendError interprets a failed bind send. The bind reports that it turned
// GSO off after the kernel refused it (EIO, typically a NIC without checksum
// offload) even when the retry succeeded; that is worth one warning, not a
// failure.
func (p *Plain) sendError(err error, count int, dst netip.AddrPort) error {
	var gso conn.ErrUDPGSODisabled
	if errors.As(err, &gso) {
		if !p.gsoWarned.Swap(true) {
			p.log.Warn("kernel refused UDP segmentation offload; sending without it", "err", gso.Error())
		}
		err = gso.RetryErr
		if err == nil {
			return nil
		}
	}
	if p.closed.Load() {
		return ErrClosed
	}
	return fmt.Errorf("plain transport: sending %d packets to %s: %w", count, dst, err)
}
