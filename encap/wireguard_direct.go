package encap

// The encrypted transport's lent batches: the caller fills WireGuard's own
// buffers in place.
//
// Send copies each VXLAN packet into a buffer of wireguard-go's, which is
// cold (wireguard-go keeps thousands of 64 KiB buffers in rotation), and
// that copy was a tenth of an encrypting sender's CPU. Borrow instead lends
// the free buffers of WireGuard's pending Read (see wireguard_tun.go): the
// caller reads straight into them, after room for the tunnel's IPv6 and
// UDP headers, Put writes those headers, and Return hands the Read back to
// WireGuard, which encrypts and sends what was Put and skips the rest.
// Between Borrow and Return WireGuard's reader waits.

import "net/netip"

// wgLoan is the WireGuard side of a Batch.
type wgLoan struct {
	w      *WireGuard
	o      *wgReadOffer
	first  int // first lent slot of the offer
	f      tunnelFields
	pkts   int
	bytes  int
	errors int
}

// Borrow waits for WireGuard's next read and lends its free buffers into
// b; own is not used. It reports false once the transport is closed.
func (w *WireGuard) Borrow(b *Batch, _ [][]byte) bool {
	if w.closed.Load() {
		return false
	}
	o, ok := w.tun.take()
	if !ok {
		return false
	}
	b.wg = wgLoan{w: w, o: o, first: o.n, f: tunnelFields{src: *w.vtep.Load(), fullSum: w.fullSum}}
	b.bufs, b.offset = o.bufs[o.n:], o.offset+tunnelHeaderLen
	b.own.to = nil
	clear(o.sizes[o.n:])
	return true
}

// putWG writes the tunnel's headers in front of the n-byte VXLAN packet in
// slot i, for the peer whose VTEP is dst.
func (b *Batch) putWG(i, n int, dst netip.Addr) bool {
	l := &b.wg
	if _, ok := (*l.w.vteps.Load())[dst]; !ok || n > WireGuardMaxPacket || n < 0 || i < 0 || i >= len(b.bufs) {
		l.errors++
		return false
	}
	slot := l.first + i
	out := l.o.bufs[slot][l.o.offset : l.o.offset+tunnelHeaderLen+n]
	f := l.f
	f.dst = dst
	h := flowHash(out[tunnelHeaderLen:])
	f.srcPort, f.flow = flowSrcPort(h), flowLabel(h)
	encodeTunnelHeader(out, f, n)
	putUDPChecksum(out, f.fullSum)
	l.o.sizes[slot] = len(out)
	l.pkts++
	l.bytes += n
	return true
}

// returnWG hands the read back to WireGuard with the first used lent
// slots filled.
func (b *Batch) returnWG(used int) {
	l := &b.wg
	l.o.n = l.first + used
	l.w.tun.release(l.o)
	l.w.countSent(l.pkts, l.bytes)
	if l.errors > 0 {
		l.w.stats.sendErrors.Add(uint64(l.errors))
	}
	b.wg = wgLoan{}
}
