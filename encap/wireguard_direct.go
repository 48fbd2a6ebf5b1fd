package encap

// Direct sends: the caller fills WireGuard's own buffers in place.
//
// Send copies each VXLAN packet into a buffer of wireguard-go's, which is
// cold (wireguard-go keeps thousands of 64 KiB buffers in rotation), and
// that copy was a tenth of an encrypting sender's CPU. A caller that reads
// its packets from a device can instead borrow the pending Read's buffers
// (see wireguard_tun.go), have the device read straight into them after
// room for the headers, and put each packet it wants sent:
//
//	var b encap.DirectBatch
//	if w.Borrow(&b) {
//		n := dev.read(b.Bufs(), sizes, b.Offset()+vxlan+...)
//		for i := range n { ... b.Put(i, size, vtep) ... }
//		b.Return(n)
//	}
//
// Between Borrow and Return WireGuard's reader waits, so the caller must
// not block there: read only what is already queued. Slots the caller
// read but did not Put are skipped by WireGuard. A borrowed batch belongs
// to one goroutine.

import (
	"net/netip"
)

// DirectBatch is a lent set of WireGuard's buffers; see Borrow.
type DirectBatch struct {
	w      *WireGuard
	o      *wgReadOffer
	first  int // first lent slot of the offer
	f      tunnelFields
	pkts   int
	bytes  int
	errors int
}

// Borrow waits for WireGuard's next read and lends its free buffers into b.
// It reports false once the transport is closed; b is then unusable.
func (w *WireGuard) Borrow(b *DirectBatch) bool {
	if w.closed.Load() {
		return false
	}
	o, ok := w.tun.take()
	if !ok {
		return false
	}
	*b = DirectBatch{w: w, o: o, first: o.n, f: tunnelFields{src: *w.vtep.Load(), fullSum: w.fullSum}}
	clear(o.sizes[o.n:])
	return true
}

// Bufs are the lent buffers; packet i goes in Bufs()[i][Offset():].
func (b *DirectBatch) Bufs() [][]byte { return b.o.bufs[b.first:] }

// Offset is where a VXLAN packet starts in each lent buffer: the IPv6 and
// UDP headers of the tunnel go in front of it.
func (b *DirectBatch) Offset() int { return b.o.offset + tunnelHeaderLen }

// Put marks slot i as holding an n-byte VXLAN packet (at Offset) for the
// peer whose VTEP is dst, and writes the tunnel's headers in front of it.
// It reports false, leaving the slot empty, if dst is no configured peer's
// VTEP or the packet is too large.
func (b *DirectBatch) Put(i, n int, dst netip.Addr) bool {
	if _, ok := (*b.w.vteps.Load())[dst]; !ok || n > WireGuardMaxPacket || n < 0 {
		b.errors++
		return false
	}
	slot := b.first + i
	out := b.o.bufs[slot][b.o.offset : b.o.offset+tunnelHeaderLen+n]
	f := b.f
	f.dst = dst
	h := flowHash(out[tunnelHeaderLen:])
	f.srcPort, f.flow = flowSrcPort(h), flowLabel(h)
	encodeTunnelHeader(out, f, n)
	putUDPChecksum(out, f.fullSum)
	b.o.sizes[slot] = len(out)
	b.pkts++
	b.bytes += n
	return true
}

// Return hands the batch back to WireGuard, which sends what was Put in
// the first used slots; the others are skipped. After Return, b and the
// buffers are no longer the caller's.
func (b *DirectBatch) Return(used int) {
	w := b.w
	b.o.n = b.first + min(max(used, 0), len(b.o.bufs)-b.first)
	w.tun.release(b.o)
	w.countSent(b.pkts, b.bytes)
	if b.errors > 0 {
		w.stats.sendErrors.Add(uint64(b.errors))
	}
	*b = DirectBatch{}
}
