package encap

// Receive path of the wireguard transport.
//
// wireguard-go calls the device's Write from one goroutine per peer, with
// the batch of packets it just decrypted from that peer, each in its own
// message buffer at the same offset. By then WireGuard has authenticated
// every byte and checked that the IPv6 source lies in the peer's allowed
// IPs, which SetPeers sets to exactly the peer's VTEP: the source address is
// the sender's identity, so a peer cannot speak for another.
//
// What is left is checking the headers are VXLAN-over-UDP-over-IPv6 to this
// node's VTEP, dropping (and counting by reason) anything else, and handing
// the rest to the Receiver in one call per Write, from a pooled scratch
// batch. The buffers are wireguard-go's; they go back to its pool when
// Write returns.
//
// The inner UDP checksum is not verified. The packet was authenticated by
// WireGuard (Poly1305 over every byte), so it cannot have been corrupted
// on the way; a wrong checksum can only come from the peer itself, which
// could as well send wrong data with a right checksum. Kernel WireGuard
// reasons the same way and marks decrypted packets checksum-verified. (The
// send path still computes it: peers running WireGuard in userspace feed
// packets through a TUN device, and there the kernel checks it.)

import (
	"net/netip"
)

// wgRxScratch is one Write's batch for the Receiver.
type wgRxScratch struct {
	bufs  [][]byte
	sizes []int
	from  []netip.AddrPort
}

func newWGRxScratch(n int) *wgRxScratch {
	return &wgRxScratch{bufs: make([][]byte, n), sizes: make([]int, n), from: make([]netip.AddrPort, n)}
}

// deliver is the device's Write: it checks each decrypted packet
// bufs[i][offset:] and hands the VXLAN packets to the Receiver. Dropped
// packets count as written.
func (w *WireGuard) deliver(bufs [][]byte, offset int) (int, error) {
	if w.rxGate != nil {
		defer w.rxGate.delivered(len(bufs))
	}
	rp := w.receiver.Load()
	if rp == nil {
		w.drops[WGDropNotStarted].Add(uint64(len(bufs)))
		return len(bufs), nil
	}
	vtep := *w.vtep.Load()
	sc := w.rxScratch.Get().(*wgRxScratch)
	for rest := bufs; len(rest) > 0; {
		chunk := rest[:min(len(rest), len(sc.bufs))]
		rest = rest[len(chunk):]
		w.deliverChunk(*rp, chunk, offset, vtep, sc)
	}
	w.rxScratch.Put(sc)
	return len(bufs), nil
}

func (w *WireGuard) deliverChunk(r Receiver, bufs [][]byte, offset int, vtep netip.Addr, sc *wgRxScratch) {
	k, bytes := 0, 0
	for _, b := range bufs {
		if offset > len(b) {
			w.drops[WGDropTruncated].Add(1)
			continue
		}
		h, why := parseTunnelHeader(b[offset:])
		switch {
		case why != WGDropNone:
		case h.dstPort != Port:
			why = WGDropWrongPort
		case h.dst != vtep:
			why = WGDropNotForUs
		}
		if why != WGDropNone {
			w.drops[why].Add(1)
			continue
		}
		sc.bufs[k] = b
		sc.sizes[k] = h.payloadLen
		sc.from[k] = netip.AddrPortFrom(h.src, Port)
		bytes += h.payloadLen
		k++
	}
	if k == 0 {
		return
	}
	w.stats.packetsReceived.Add(uint64(k))
	w.stats.bytesReceived.Add(uint64(bytes))
	r.Receive(sc.bufs[:k], sc.sizes[:k], offset+tunnelHeaderLen, sc.from[:k])
	clear(sc.bufs[:k])
}
