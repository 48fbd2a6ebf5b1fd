package encap

// Send path of the wireguard transport.
//
// Send runs on the caller's goroutine (any number at once). It checks the
// whole batch first (destination is a configured peer's VTEP, sizes), so a
// batch is either refused or handed over whole. Then it takes wireguard-go's
// pending Read (see wireguard_tun.go), and for each packet writes IPv6 and
// UDP headers into wireguard-go's buffer, copies the VXLAN packet behind them
// and computes the UDP checksum (from the inner checksum, see
// wireguard_lco.go, unless FullInnerChecksum); a batch larger than what is
// left of one Read
// continues with the next. Nothing is kept and nothing allocates; the only shared
// state read is the own VTEP and the peer VTEP set, each one atomic load.

import (
	"errors"
	"fmt"
	"net/netip"
)

// ErrUnknownVTEP is returned (wrapped) by the wireguard transport's Send for a
// destination that is not the VTEP of any peer given to SetPeers.
var ErrUnknownVTEP = errors.New("encap: destination is not the VTEP of a configured WireGuard peer")

// Send encrypts each bufs[i][offset:] (a VXLAN packet) for the peer whose
// VTEP is dst.Addr() and sends it, as IPv6/UDP from this node's VTEP to
// port 4789 (dst's port is ignored). It copies the packets and neither keeps
// nor modifies bufs, so headroom is not needed. It blocks while WireGuard
// is behind, until Close. Packets to a peer without a session are held by
// WireGuard (a bounded number) until the handshake completes.
func (w *WireGuard) Send(bufs [][]byte, offset int, dst netip.AddrPort) error {
	if len(bufs) == 0 {
		return nil
	}
	if err := w.checkSend(bufs, offset, dst.Addr()); err != nil {
		if !errors.Is(err, ErrClosed) {
			w.stats.sendErrors.Add(1)
		}
		return err
	}
	f := tunnelFields{src: *w.vtep.Load(), dst: dst.Addr(), fullSum: w.fullSum}
	done, pkts, bytes := 0, 0, 0
	for done < len(bufs) {
		o, ok := w.tun.take()
		if !ok {
			w.countSent(pkts, bytes)
			return ErrClosed
		}
		k := min(len(bufs)-done, len(o.bufs)-o.n)
		for j := range k {
			pkt, slot := bufs[done+j][offset:], o.n+j
			o.sizes[slot] = encodeTunnelled(o.bufs[slot][o.offset:], pkt, f)
			if o.sizes[slot] == 0 {
				// wireguard-go's buffers always fit WireGuardMaxPacket;
				// should one not, it skips the empty slot.
				w.stats.sendErrors.Add(1)
				continue
			}
			pkts++
			bytes += len(pkt)
		}
		o.n += k
		done += k
		w.tun.release(o)
	}
	w.countSent(pkts, bytes)
	return nil
}

func (w *WireGuard) countSent(pkts, bytes int) {
	if pkts > 0 {
		w.stats.packetsSent.Add(uint64(pkts))
		w.stats.bytesSent.Add(uint64(bytes))
	}
}

// checkSend refuses a batch that cannot be sent whole.
func (w *WireGuard) checkSend(bufs [][]byte, offset int, dst netip.Addr) error {
	if len(bufs) > w.batch {
		return fmt.Errorf("wireguard transport: %d packets in one Send, at most BatchSize (%d): split the batch", len(bufs), w.batch)
	}
	if w.closed.Load() {
		return ErrClosed
	}
	if _, ok := (*w.vteps.Load())[dst]; !ok {
		return fmt.Errorf("wireguard transport: sending to %s: %w", dst, ErrUnknownVTEP)
	}
	for i, b := range bufs {
		if offset < 0 || offset > len(b) {
			return fmt.Errorf("wireguard transport: packet %d is %d bytes, shorter than offset %d", i, len(b), offset)
		}
		if n := len(b) - offset; n > WireGuardMaxPacket {
			return fmt.Errorf("wireguard transport: packet %d is %d bytes, more than the %d WireGuard can carry", i, n, WireGuardMaxPacket)
		}
	}
	return nil
}

// encodeTunnelled writes the tunnelled form of the VXLAN packet pkt into
// out (IPv6, UDP, then a copy of pkt) and returns its length, or 0 if out
// is too short.
func encodeTunnelled(out, pkt []byte, f tunnelFields) int {
	n := tunnelHeaderLen + len(pkt)
	if len(out) < n {
		return 0
	}
	out = out[:n]
	copy(out[tunnelHeaderLen:], pkt)
	h := flowHash(pkt)
	f.srcPort, f.flow = flowSrcPort(h), flowLabel(h)
	encodeTunnelHeader(out, f, len(pkt))
	putUDPChecksum(out, f.fullSum)
	return n
}
