package encap

// Lent batches: how a caller that reads packets from a device sends them
// with no copy of its own.
//
//	tr.Borrow(&b, own) ─▶ read frames into b.Bufs()[i] at
//	b.Offset()+HeaderLen ─▶ VXLAN header in front, b.Put(i, n, dst) for
//	each packet to send ─▶ b.Return(read): the packets go out
//
// Every Transport lends through Borrow. The encrypted transport lends the
// buffers of WireGuard's pending read (wireguard_direct.go) and writes the
// tunnel's headers on Put; Return hands the read back to WireGuard. The
// plain and channel transports have no buffers to lend and lend the
// caller's own (Lend); Return sends what was Put through their Send,
// grouped by destination.
//
// Between Borrow and Return the transport may be waiting for the caller
// (WireGuard's reader does, and with it every other sender), so the caller
// must not block there: it reads only what is already queued. A Batch
// belongs to one goroutine, which keeps it across batches: its scratch is
// allocated once and reused, so a steady stream allocates nothing.

import "net/netip"

// Sender sends VXLAN packets; Transport.Send and BatchSize as documented
// there. A batch of the caller's own buffers sends through it on Return.
type Sender interface {
	Send(bufs [][]byte, offset int, dst netip.AddrPort) error
	BatchSize() int
}

// Batch is a set of buffers a Transport lends to fill with VXLAN packets
// and send; see Borrow. The zero Batch is ready for Borrow or Lend.
type Batch struct {
	bufs   [][]byte
	offset int
	wg     wgLoan  // set while WireGuard lends its buffers
	own    ownLoan // the caller's buffers, otherwise
}

// ownLoan is a batch of the caller's own buffers.
type ownLoan struct {
	to   Sender           // nil: there is nowhere to send, Put fails
	pkts [][]byte         // by slot: the packet Put there, nil if none
	dst  []uint16         // by slot: its destination's index in dsts
	dsts []netip.AddrPort // the batch's destinations, in order of first Put
	cur  int              // index in dsts of the last Put's destination
	out  [][]byte         // Return's scratch: one destination's packets
}

// Lend makes b a batch of the caller's buffers own, whose packets Return
// sends through to, grouped by destination. A packet starts at
// Headroom-HeaderLen, so frames are read at Headroom. With a nil to there
// is nowhere to send: Put refuses every packet. Transports without
// buffers of their own implement Borrow with Lend.
func (b *Batch) Lend(own [][]byte, to Sender) {
	b.bufs, b.offset = own, Headroom-HeaderLen
	b.wg = wgLoan{}
	o := &b.own
	o.to, o.cur = to, 0
	if cap(o.pkts) < len(own) {
		o.pkts = make([][]byte, len(own))
		o.dst = make([]uint16, len(own))
		o.dsts = make([]netip.AddrPort, 0, len(own))
		o.out = make([][]byte, 0, len(own))
	}
	o.pkts, o.dst = o.pkts[:len(own)], o.dst[:len(own)]
}

// Bufs are the lent buffers; packet i goes in Bufs()[i][Offset():].
func (b *Batch) Bufs() [][]byte { return b.bufs }

// Offset is where a VXLAN packet starts in each lent buffer; the bytes in
// front are the transport's, for its own headers.
func (b *Batch) Offset() int { return b.offset }

// Put marks slot i as holding an n-byte VXLAN packet, at Offset, for dst
// (a peer's VTEP on the encrypted transport, which ignores the port; its
// underlay address on the plain one). It reports false, leaving the slot
// empty, when the packet cannot be sent: dst is no configured peer's VTEP,
// the packet does not fit, or the batch has nowhere to send.
func (b *Batch) Put(i, n int, dst netip.AddrPort) bool {
	if b.wg.w != nil {
		return b.putWG(i, n, dst.Addr())
	}
	o := &b.own
	if o.to == nil || uint(i) >= uint(len(b.bufs)) || n <= 0 || b.offset+n > len(b.bufs[i]) {
		return false
	}
	if o.cur >= len(o.dsts) || o.dsts[o.cur] != dst {
		o.cur = o.index(dst) // the last Put's destination is the likely one
	}
	o.pkts[i], o.dst[i] = b.bufs[i][:b.offset+n], uint16(o.cur)
	return true
}

// Return sends what was Put in the first used slots (the rest are
// skipped) and reports how many of those packets could not be sent. After
// Return the buffers are no longer the caller's to fill, until the next
// Borrow or Lend.
func (b *Batch) Return(used int) (failed int) {
	used = min(max(used, 0), len(b.bufs))
	if b.wg.w != nil {
		b.returnWG(used)
	} else {
		failed = b.sendOwn(used)
	}
	b.bufs = nil
	return failed
}

// index returns dst's index in dsts, adding it if it is new. There are
// never more destinations than slots.
func (o *ownLoan) index(dst netip.AddrPort) int {
	for d, x := range o.dsts {
		if x == dst {
			return d
		}
	}
	o.dsts = append(o.dsts, dst)
	return len(o.dsts) - 1
}

// sendOwn sends the packets Put in the first used slots of an own-buffer
// batch, one Send per destination and BatchSize, and clears the batch.
func (b *Batch) sendOwn(used int) (failed int) {
	o := &b.own
	if o.to == nil {
		return 0
	}
	limit := o.to.BatchSize()
	if len(o.dsts) == 1 {
		// One destination, the usual case: close up the empty slots (frames
		// answered, dropped or replicated) and send the rest as they are.
		k := 0
		for i, p := range o.pkts[:used] {
			if p != nil {
				if k != i {
					o.pkts[k], o.pkts[i] = p, nil
				}
				k++
			}
		}
		for q := o.pkts[:k]; len(q) > 0; {
			c := min(len(q), limit)
			failed += o.send(q[:c], b.offset, o.dsts[0])
			q = q[c:]
		}
	} else {
		failed = o.sendEach(used, b.offset, limit)
	}
	clear(o.pkts) // packets Put beyond used are not sent, now or later
	o.dsts, o.to = o.dsts[:0], nil
	return failed
}

// sendEach sends the packets Put in the first used slots, one Send per
// destination and limit.
func (o *ownLoan) sendEach(used, offset, limit int) (failed int) {
	for d, dst := range o.dsts {
		out := o.out[:0]
		for i, p := range o.pkts[:used] {
			if p == nil || int(o.dst[i]) != d {
				continue
			}
			out = append(out, p)
			if len(out) == limit {
				failed += o.send(out, offset, dst)
				out = out[:0]
			}
		}
		if len(out) > 0 {
			failed += o.send(out, offset, dst)
		}
	}
	return failed
}

// send sends pkts to dst and returns how many failed.
func (o *ownLoan) send(pkts [][]byte, offset int, dst netip.AddrPort) int {
	err := o.to.Send(pkts, offset, dst)
	clear(pkts) // keep no buffer of the caller's
	if err != nil {
		return len(pkts)
	}
	return 0
}
