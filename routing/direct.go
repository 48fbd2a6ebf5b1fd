package routing

// Direct sends: for an encrypted network, frames are read from the device
// straight into the secure transport's own buffers, after room for the
// tunnel's headers, and sent from there. The copy path (read into the
// port's buffers, Transport.Send copies them into the transport's) cost a
// copy into cold buffers per packet, about a tenth of an encrypting
// sender's CPU.
//
//	wait until the device has frames ─▶ borrow the transport's pending
//	batch ─▶ read what is queued into it (never blocking while holding it)
//	─▶ route each frame as outbound does ─▶ unicast: VXLAN header in
//	place, Put ─▶ return the batch ─▶ broadcast/multicast frames (copied
//	out before the return) go the copy path
//
// The port falls back to the copy path for a batch when its network is not
// encrypted (or not known yet), and for good once the transport is closed.

import (
	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/internal/packet"
)

// DirectSender is a transport that lends its own packet buffers for a
// port to read frames into (encap.WireGuard).
type DirectSender interface {
	Borrow(b *encap.DirectBatch) bool
}

// PollDevice is a device that can wait for frames without reading them and
// read without waiting (tun's kernel devices).
type PollDevice interface {
	WaitReadable() error
	TryRead(bufs [][]byte, sizes []int, offset int) (int, error)
}

// direct reports whether the port can send directly.
func (p *Port) direct() (DirectSender, PollDevice, bool) {
	if p.f.cfg.CopySend {
		return nil, nil, false
	}
	ds, ok := p.f.cfg.Secure.(DirectSender)
	if !ok {
		return nil, nil, false
	}
	pd, ok := p.dev.(PollDevice)
	return ds, pd, ok
}

// runDirect is Run for a port that can send directly.
func (p *Port) runDirect(ds DirectSender, pd PollDevice) error {
	for {
		net := p.f.cfg.Table.Snapshot().Network(p.vni)
		if net == nil || !net.Encrypted {
			if err := p.readAndForward(); err != nil {
				return err
			}
			continue
		}
		// Wait before borrowing: a borrowed batch holds up the transport's
		// reader and with it every other port's sends.
		if err := pd.WaitReadable(); err != nil {
			return err
		}
		if !ds.Borrow(&p.db) {
			// The transport is closed: carry on the copy way (its sends
			// fail and are counted) until the device closes too.
			for {
				if err := p.readAndForward(); err != nil {
					return err
				}
			}
		}
		off := p.db.Offset() + encap.HeaderLen
		n, err := pd.TryRead(p.db.Bufs(), p.sizes, off)
		if n > 0 {
			p.outboundDirect(n, off)
		}
		p.db.Return(n)
		if p.spilled > 0 {
			p.replicateSpilled()
		}
		p.flushReplies()
		if err != nil {
			return err
		}
	}
}

// outboundDirect routes n frames read into the borrowed batch at off.
// Unicast frames to peers are put in place; broadcast and multicast frames
// are copied into the port's own buffers for replicateSpilled.
func (p *Port) outboundDirect(n, off int) {
	net := p.startBatch(n)
	if net == nil {
		return
	}
	bufs := p.db.Bufs()
	var txp, txb, pp, pb uint64
	var last *Peer
	for i := range n {
		size := p.sizes[i]
		if size < packet.EthHeaderLen {
			p.Stats.Drops.Add(DropRunt, 1)
			continue
		}
		frame := bufs[i][off : off+size]
		peer, bum := p.route(net, frame)
		if bum {
			copy(p.bufs[p.spilled][encap.Headroom:], frame)
			p.spillLen[p.spilled] = size
			p.spilled++
			continue
		}
		if peer == nil {
			continue
		}
		if !peer.VTEP.IsValid() {
			p.Stats.Drops.Add(DropNoRoute, 1)
			continue
		}
		pkt := encap.HeaderLen + size
		encap.Encode(bufs[i][off-encap.HeaderLen:], p.vni)
		if !p.db.Put(i, pkt, peer.VTEP.Addr()) {
			p.Stats.Drops.Add(DropSendError, 1)
			continue
		}
		if peer != last {
			if last != nil {
				last.Stats.TxPackets.Add(pp)
				last.Stats.TxBytes.Add(pb)
			}
			last, pp, pb = peer, 0, 0
		}
		pp, pb = pp+1, pb+uint64(pkt)
		txp, txb = txp+1, txb+uint64(pkt)
	}
	if last != nil {
		last.Stats.TxPackets.Add(pp)
		last.Stats.TxBytes.Add(pb)
	}
	if txp > 0 {
		p.Stats.TxPackets.Add(txp)
		p.Stats.TxBytes.Add(txb)
	}
}

// replicateSpilled sends the broadcast and multicast frames of the last
// direct batch the copy way.
func (p *Port) replicateSpilled() {
	snap := p.f.cfg.Table.Snapshot()
	if net := snap.Network(p.vni); net != nil {
		p.grow(len(snap.peers))
		for i := range p.spilled {
			p.replicate(net, p.bufs[i][:encap.Headroom+p.spillLen[i]])
		}
		p.flush(net)
	}
	p.spilled = 0
}
