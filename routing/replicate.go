package routing

// Head-end replication of broadcast and multicast frames, and the
// transmit counters of the outbound path. Owned by the port's Run
// goroutine, like the rest of its scratch.

import (
	"meshnet.dev/meshnet/encap"
)

// spillMin is the smallest buffer a broadcast frame is copied into; a slot
// grows when a larger frame comes, so the copies allocate only while the
// largest frame seen grows.
const spillMin = encap.Headroom + 2048

// copyAside copies a broadcast or multicast frame, with its VXLAN header,
// out of the batch for replicate, within the rate bound.
func (p *Port) copyAside(net *Network, frame []byte) {
	if len(net.Members) == 0 {
		return
	}
	if !p.bum.take() {
		p.Stats.Drops.Add(DropBUMRate, 1)
		return
	}
	k, need := len(p.spillOut), encap.Headroom+len(frame)
	if cap(p.spill[k]) < need {
		p.spill[k] = make([]byte, max(need, spillMin))
	}
	b := p.spill[k][:need]
	copy(b[encap.Headroom:], frame)
	encap.Encode(b[encap.Headroom-encap.HeaderLen:], p.vni)
	p.spillOut = append(p.spillOut, b)
	p.Stats.Replicated.Add(1)
}

// replicate sends the frames copied aside to every member of the network,
// in one Send per member (the same buffers each time).
func (p *Port) replicate(net *Network) {
	const off = encap.Headroom - encap.HeaderLen
	frames := p.spillOut
	n := uint64(len(frames))
	var bytes uint64
	for _, b := range frames {
		bytes += uint64(len(b) - off)
	}
	var tx txTally
	for _, m := range net.Members {
		dst, ok := p.addrOf(net, m)
		if !ok {
			p.Stats.Drops.Add(DropNoRoute, n)
			continue
		}
		for q := frames; len(q) > 0; {
			k := min(len(q), p.tr.BatchSize())
			if err := p.tr.Send(q[:k], off, dst); err != nil {
				p.Stats.Drops.Add(DropSendError, uint64(k))
			}
			q = q[k:]
		}
		tx.add(m, n, bytes)
	}
	tx.done(&p.Stats)
	clear(p.spillOut)
	p.spillOut = p.spillOut[:0]
}

// txTally adds up what a batch sent: per peer in runs (a batch mostly goes
// to one peer) and in total, so the shared counters are added once per run
// rather than once per packet.
type txTally struct {
	peer          *Peer
	pkts, bytes   uint64 // of the current run, to peer
	tpkts, tbytes uint64 // of the batch
}

// add counts pkts packets of bytes bytes in all sent to peer.
func (t *txTally) add(peer *Peer, pkts, bytes uint64) {
	if peer != t.peer {
		t.flushPeer()
		t.peer = peer
	}
	t.pkts += pkts
	t.bytes += bytes
	t.tpkts += pkts
	t.tbytes += bytes
}

func (t *txTally) flushPeer() {
	if t.peer != nil && t.pkts > 0 {
		t.peer.Stats.TxPackets.Add(t.pkts)
		t.peer.Stats.TxBytes.Add(t.bytes)
	}
	t.pkts, t.bytes = 0, 0
}

// done adds the last run to its peer and the batch to s.
func (t *txTally) done(s *PortStats) {
	t.flushPeer()
	if t.tpkts > 0 {
		s.TxPackets.Add(t.tpkts)
		s.TxBytes.Add(t.tbytes)
	}
}
