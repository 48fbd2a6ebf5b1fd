package routing

import (
	"time"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/internal/packet"
)

// Port is one network's attachment of a device to the Forwarder. Run reads
// the device; the outbound scratch below belongs to Run's goroutine alone.
type Port struct {
	f     *Forwarder
	vni   uint32
	dev   Device
	vw    VerifiedWriter // dev, if it can skip checksum checks; else nil
	Stats PortStats

	bufs     [][]byte
	sizes    []int
	perPeer  [][][]byte // by Peer.index: packets queued for that peer
	touched  []*Peer    // peers with queued packets, in first-queued order
	replies  [][]byte   // reply frames built at encap.Headroom
	replyOut [][]byte   // replies[:k] trimmed to their lengths
	bum      bucket

	pending    map[epKey]struct{} // sources reported but not yet in the table
	pendingFor *Network

	// Per-batch memo of the last lookups: the frames of a batch (a cut-up
	// TCP super-frame above all) mostly share source and destination, and
	// one snapshot serves the whole batch, so repeating a lookup changes
	// nothing. Cleared at the start of every batch.
	known    epKey // last source confirmed as a known local endpoint
	knownOK  bool
	dst      dstMemo
	refilled bool // the BUM bucket was refilled for this batch

	db       encap.DirectBatch // the transport's buffers, while lent (direct.go)
	spilled  int               // broadcast frames of a direct batch copied to p.bufs
	spillLen []int             // their lengths
}

// dstMemo is the last destination MAC looked up in a batch.
type dstMemo struct {
	mac   packet.MAC
	peer  *Peer
	local bool
	ok    bool
	valid bool
}

// replyBufLen fits the largest locally generated reply (an NA) after the
// headroom.
const replyBufLen = encap.Headroom + 128

func newPort(f *Forwarder, vni uint32, dev Device) *Port {
	n := dev.BatchSize()
	p := &Port{
		f: f, vni: vni, dev: dev,
		bufs:     make([][]byte, n),
		sizes:    make([]int, n),
		replies:  make([][]byte, n),
		replyOut: make([][]byte, 0, n),
		spillLen: make([]int, n),
		bum:      newBucket(f.cfg.BUMRate, f.cfg.BUMBurst),
		pending:  map[epKey]struct{}{},
	}
	for i := range p.bufs {
		p.bufs[i] = make([]byte, encap.MaxPacket)
		p.replies[i] = make([]byte, replyBufLen)
	}
	if vw, ok := dev.(VerifiedWriter); ok && !f.cfg.VerifyInnerChecksums {
		p.vw = vw
	}
	return p
}

// VNI is the network this port belongs to.
func (p *Port) VNI() uint32 { return p.vni }

// Run forwards frames read from the device until a read fails, typically
// because the device was closed, and returns that error. For an encrypted
// network whose device and transport allow it, frames are read straight
// into the transport's buffers (direct.go).
func (p *Port) Run() error {
	if ds, pd, ok := p.direct(); ok {
		return p.runDirect(ds, pd)
	}
	for {
		if err := p.readAndForward(); err != nil {
			return err
		}
	}
}

// readAndForward reads one batch into the port's own buffers and forwards
// it.
func (p *Port) readAndForward() error {
	n, err := p.dev.Read(p.bufs, p.sizes, encap.Headroom)
	if n > 0 {
		p.outbound(n)
	}
	return err
}

// startBatch prepares the per-batch state for n frames and returns the
// port's network, or nil when it has none (the frames are counted as
// dropped).
func (p *Port) startBatch(n int) *Network {
	snap := p.f.cfg.Table.Snapshot()
	net := snap.Network(p.vni)
	if net == nil {
		p.Stats.Drops.Add(DropUnknownVNI, uint64(n))
		return nil
	}
	p.grow(len(snap.peers))
	p.knownOK, p.dst, p.refilled = false, dstMemo{}, false
	return net
}

// route decides where one frame goes: it learns the source, answers
// ARP/ND, runs the hook and looks the destination up. It returns the peer
// a unicast frame goes to, or nil when the frame was answered or dropped
// (and counted); bum reports a broadcast or multicast frame, which the
// caller replicates.
func (p *Port) route(net *Network, frame []byte) (peer *Peer, bum bool) {
	p.learn(net, frame)
	if p.answer(net, frame) {
		return nil, false
	}
	if packet.IsMulticast(packet.DstMAC(frame)) {
		if !p.refilled {
			p.bum.refill(time.Now())
			p.refilled = true
		}
		return nil, true
	}
	if hook := p.f.cfg.Hook; hook != nil && hook.Outbound(p.vni, frame) == packet.Drop {
		p.Stats.Drops.Add(DropPolicy, 1)
		return nil, false
	}
	peer, local, ok := p.lookupDst(net, packet.DstMAC(frame))
	switch {
	case !ok:
		p.Stats.Drops.Add(DropUnknownUnicast, 1)
	case local:
		p.Stats.Drops.Add(DropLocalDst, 1)
	default:
		return peer, false
	}
	return nil, false
}

// outbound handles n frames just read into p.bufs.
func (p *Port) outbound(n int) {
	net := p.startBatch(n)
	if net == nil {
		return
	}
	for i := range n {
		size := p.sizes[i]
		if size < packet.EthHeaderLen {
			p.Stats.Drops.Add(DropRunt, 1)
			continue
		}
		buf := p.bufs[i][:encap.Headroom+size]
		peer, bum := p.route(net, buf[encap.Headroom:])
		switch {
		case bum:
			p.replicate(net, buf)
		case peer != nil:
			encap.Encode(buf[encap.Headroom-encap.HeaderLen:], p.vni)
			p.enqueue(net, peer, buf)
		}
	}
	p.flush(net)
	p.flushReplies()
}

// lookupDst is net.LookupMAC, remembered for the rest of the batch.
func (p *Port) lookupDst(net *Network, mac packet.MAC) (*Peer, bool, bool) {
	if d := &p.dst; d.valid && d.mac == mac {
		return d.peer, d.local, d.ok
	}
	peer, local, ok := net.LookupMAC(mac)
	p.dst = dstMemo{mac: mac, peer: peer, local: local, ok: ok, valid: true}
	return peer, local, ok
}

// grow sizes the per-peer scratch for a snapshot with n peers; it allocates
// only when the cluster grows.
func (p *Port) grow(n int) {
	for len(p.perPeer) < n {
		p.perPeer = append(p.perPeer, make([][]byte, 0, len(p.bufs)))
	}
}

// replicate sends a broadcast or multicast frame to every member of the
// network, within the rate bound. The VXLAN header is written once and the
// same buffer is queued for each member.
func (p *Port) replicate(net *Network, buf []byte) {
	if len(net.Members) == 0 {
		return
	}
	if !p.bum.take() {
		p.Stats.Drops.Add(DropBUMRate, 1)
		return
	}
	encap.Encode(buf[encap.Headroom-encap.HeaderLen:], p.vni)
	for _, m := range net.Members {
		p.enqueue(net, m, buf)
	}
	p.Stats.Replicated.Add(1)
}

// enqueue queues buf (headroom, VXLAN header and frame) for peer.
func (p *Port) enqueue(net *Network, peer *Peer, buf []byte) {
	if _, ok := p.f.transportFor(net, peer); !ok {
		p.Stats.Drops.Add(DropNoRoute, 1)
		return
	}
	q := p.perPeer[peer.index]
	if len(q) == 0 {
		p.touched = append(p.touched, peer)
	}
	p.perPeer[peer.index] = append(q, buf)
}

// flush sends every peer's queue, in as few transport calls as its batch
// size allows.
func (p *Port) flush(net *Network) {
	const off = encap.Headroom - encap.HeaderLen
	var txp, txb uint64
	for _, peer := range p.touched {
		q := p.perPeer[peer.index]
		tr, _ := p.f.transportFor(net, peer)
		dst := peer.Underlay
		if net.Encrypted {
			dst = peer.VTEP
		}
		var bytes uint64
		for _, b := range q {
			bytes += uint64(len(b) - off)
		}
		for len(q) > 0 {
			k := min(len(q), tr.BatchSize())
			if err := tr.Send(q[:k], off, dst); err != nil {
				p.Stats.Drops.Add(DropSendError, uint64(k))
			}
			q = q[k:]
		}
		n := uint64(len(p.perPeer[peer.index]))
		peer.Stats.TxPackets.Add(n)
		peer.Stats.TxBytes.Add(bytes)
		txp, txb = txp+n, txb+bytes
		clear(p.perPeer[peer.index])
		p.perPeer[peer.index] = p.perPeer[peer.index][:0]
	}
	clear(p.touched)
	p.touched = p.touched[:0]
	if txp > 0 {
		p.Stats.TxPackets.Add(txp)
		p.Stats.TxBytes.Add(txb)
	}
}
