package routing

// The outbound path: one goroutine per attached network (Port.Run) reads
// its device and sends what it reads to peers, one batch at a time.
//
//	device readable? ─▶ borrow a batch from the network's transport (an
//	encrypted network: WireGuard's own buffers; a plain one: the port's)
//	─▶ read what is queued into it ─▶ for each frame: learn the source ─▶
//	ARP/NS for a known endpoint? answer ─▶ broadcast/multicast? copy it
//	aside (rate-bounded) ─▶ unicast: hook, FDB lookup, VXLAN header in
//	place, Put ─▶ return the batch, which sends it ─▶ replicate the frames
//	copied aside to every member ─▶ write the answers to the device
//
// The port waits for its device before borrowing: a borrowed WireGuard
// batch holds up WireGuard's reader, and with it every other port's sends.
// Broadcast frames are copied out because a lent buffer can go to one
// destination only, and is gone once returned; the rate bound keeps the
// copies cheap.
//
// Locking: none. The port's scratch belongs to Run's goroutine alone and
// one snapshot serves a whole batch.

import (
	"net/netip"
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

	bufs     [][]byte        // the port's own buffers, lent where the transport has none
	sizes    []int           // frame lengths of the batch in hand
	batch    encap.Batch     // the buffers frames are read into
	tr       encap.Transport // where the batch goes; nil: nowhere
	replies  [][]byte        // reply frames built at encap.Headroom
	replyOut [][]byte        // replies[:k] trimmed to their lengths
	spill    [][]byte        // broadcast/multicast frames copied aside
	spillOut [][]byte        // spill[:k] trimmed to their packets
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
		spill:    make([][]byte, n),
		spillOut: make([][]byte, 0, n),
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
// because the device was closed, and returns that error.
func (p *Port) Run() error {
	for {
		if err := p.dev.WaitReadable(); err != nil {
			return err
		}
		if err := p.forwardBatch(); err != nil {
			return err
		}
	}
}

// forwardBatch reads what the device has queued into a borrowed batch and
// forwards it.
func (p *Port) forwardBatch() error {
	net := p.f.cfg.Table.Snapshot().Network(p.vni)
	p.borrow(net)
	off := p.batch.Offset() + encap.HeaderLen
	n, err := p.dev.TryRead(p.batch.Bufs(), p.sizes, off)
	if n > 0 {
		p.outbound(net, n, off)
	}
	if failed := p.batch.Return(n); failed > 0 {
		p.Stats.Drops.Add(DropSendError, uint64(failed))
	}
	if len(p.spillOut) > 0 {
		p.replicate(net)
	}
	p.flushReplies()
	return err
}

// borrow takes the batch the frames of network net are read into, and
// picks the transport they go to: the secure one for an encrypted network,
// the plain one otherwise. Frames of a network not (yet) known, or without
// a transport, are read into the port's buffers and dropped; after the
// transport is closed they are read on, and their sends fail and are
// counted, until the device closes too.
func (p *Port) borrow(net *Network) {
	p.tr = nil
	if net != nil {
		p.tr = p.f.cfg.Plain
		if net.Encrypted {
			p.tr = p.f.cfg.Secure
		}
	}
	switch {
	case p.tr == nil:
		p.batch.Lend(p.bufs, nil)
	case p.f.cfg.CopySend:
		p.batch.Lend(p.bufs, p.tr)
	case !p.tr.Borrow(&p.batch, p.bufs):
		p.batch.Lend(p.bufs, nil)
	}
}

// outbound routes the n frames just read into the batch at off: each one
// is answered, dropped, copied aside for replication or put in the batch
// for its peer.
func (p *Port) outbound(net *Network, n, off int) {
	if net == nil {
		p.Stats.Drops.Add(DropUnknownVNI, uint64(n))
		return
	}
	p.knownOK, p.dst, p.refilled = false, dstMemo{}, false
	bufs := p.batch.Bufs()
	var tx txTally
	for i := range n {
		size := p.sizes[i]
		if size < packet.EthHeaderLen {
			p.Stats.Drops.Add(DropRunt, 1)
			continue
		}
		frame := bufs[i][off : off+size]
		peer, bum := p.route(net, frame)
		if bum {
			p.copyAside(net, frame)
			continue
		}
		if peer == nil {
			continue
		}
		dst, ok := p.addrOf(net, peer)
		if !ok {
			p.Stats.Drops.Add(DropNoRoute, 1)
			continue
		}
		pkt := encap.HeaderLen + size
		encap.Encode(bufs[i][off-encap.HeaderLen:], p.vni)
		if !p.batch.Put(i, pkt, dst) {
			p.Stats.Drops.Add(DropSendError, 1)
			continue
		}
		tx.add(peer, 1, uint64(pkt))
	}
	tx.done(&p.Stats)
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

// lookupDst is net.LookupMAC, remembered for the rest of the batch.
func (p *Port) lookupDst(net *Network, mac packet.MAC) (*Peer, bool, bool) {
	if d := &p.dst; d.valid && d.mac == mac {
		return d.peer, d.local, d.ok
	}
	peer, local, ok := net.LookupMAC(mac)
	p.dst = dstMemo{mac: mac, peer: peer, local: local, ok: ok, valid: true}
	return peer, local, ok
}

// addrOf is where packets of network net go for peer: its VTEP on an
// encrypted network, its underlay address on a plain one. ok is false
// when the batch has no transport or the peer no such address.
func (p *Port) addrOf(net *Network, peer *Peer) (netip.AddrPort, bool) {
	switch {
	case p.tr == nil:
		return netip.AddrPort{}, false
	case net.Encrypted:
		return peer.VTEP, peer.VTEP.IsValid()
	}
	return peer.Underlay, peer.Underlay.IsValid()
}
