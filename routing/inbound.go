package routing

import (
	"net/netip"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/internal/packet"
)

// rxScratch holds one Receive call's device batch; pooled so the inbound
// path does not allocate.
type rxScratch struct {
	out [][]byte
}

// receiver adapts the Forwarder to one transport, remembering whether that
// transport authenticates its packets.
type receiver struct {
	f      *Forwarder
	secure bool
}

// Receive implements encap.Receiver.
func (r receiver) Receive(bufs [][]byte, sizes []int, offset int, from []netip.AddrPort) {
	r.f.inbound(bufs, sizes, offset, from, r.secure)
}

// PlainReceiver is the encap.Receiver to start the plain transport with.
func (f *Forwarder) PlainReceiver() encap.Receiver { return receiver{f, false} }

// SecureReceiver is the encap.Receiver to start the secure transport with.
func (f *Forwarder) SecureReceiver() encap.Receiver { return receiver{f, true} }

// inbound checks and delivers packets from peers. Consecutive packets for
// the same network are written to its device in one batch.
func (f *Forwarder) inbound(bufs [][]byte, sizes []int, offset int, from []netip.AddrPort, secure bool) {
	snap := f.cfg.Table.Snapshot()
	ports := *f.ports.Load()
	sc := f.rx.Get().(*rxScratch)
	var cur *Port
	var curVerified bool
	var rxBytes uint64
	var lastPeer *Peer
	var peerPkts, peerBytes uint64
	flushPeer := func() {
		if lastPeer != nil && peerPkts > 0 {
			lastPeer.Stats.RxPackets.Add(peerPkts)
			lastPeer.Stats.RxBytes.Add(peerBytes)
		}
		peerPkts, peerBytes = 0, 0
	}
	flushPort := func() {
		if cur != nil && len(sc.out) > 0 {
			cur.write(sc.out, offset+encap.HeaderLen, rxBytes, curVerified)
		}
		clear(sc.out)
		sc.out, rxBytes = sc.out[:0], 0
	}
	for i := range bufs {
		size := sizes[i]
		if size == 0 {
			continue
		}
		pkt := bufs[i][offset : offset+size]
		h, err := encap.Parse(pkt)
		if err != nil {
			f.drops.Add(DropMalformed, 1)
			continue
		}
		port := ports[h.VNI]
		net := snap.Network(h.VNI)
		if port == nil || net == nil {
			f.drops.Add(DropUnknownVNI, 1)
			continue
		}
		if net.Encrypted && !secure {
			port.Stats.Drops.Add(DropPlaintext, 1)
			continue
		}
		var peer *Peer
		if secure {
			peer = snap.PeerByVTEP(from[i].Addr())
		} else {
			peer = snap.PeerByUnderlay(from[i].Addr().Unmap())
		}
		if !net.IsMember(peer) {
			port.Stats.Drops.Add(DropNotMember, 1)
			continue
		}
		frame := pkt[encap.HeaderLen:]
		if len(frame) < packet.EthHeaderLen {
			port.Stats.Drops.Add(DropRunt, 1)
			continue
		}
		if hook := f.cfg.Hook; hook != nil && hook.Inbound(h.VNI, frame) == packet.Drop {
			port.Stats.Drops.Add(DropPolicy, 1)
			continue
		}
		if dst := packet.DstMAC(frame); !packet.IsMulticast(dst) {
			if _, local, ok := net.LookupMAC(dst); ok && !local {
				port.Stats.Drops.Add(DropMisdirected, 1)
				continue
			}
		}
		if peer != lastPeer {
			flushPeer()
			lastPeer = peer
		}
		peerPkts++
		peerBytes += uint64(len(frame))
		// A frame's integrity was verified end to end when WireGuard
		// authenticated it, or when a meshnet node sent it plain: meshnet
		// always sets the UDP checksum, which the kernel checked. Static
		// peers (no VTEP) may send none.
		verified := secure || peer.VTEP.IsValid()
		if port != cur || verified != curVerified {
			flushPort()
			cur, curVerified = port, verified
		}
		sc.out = append(sc.out, bufs[i][:offset+size])
		rxBytes += uint64(len(frame))
	}
	flushPeer()
	flushPort()
	f.rx.Put(sc)
}

// write delivers frames from peers to the device. A device that can skip
// verifying the checksums of frames whose integrity was verified end to
// end is told so (see Config.VerifyInnerChecksums).
func (p *Port) write(bufs [][]byte, offset int, bytes uint64, verified bool) {
	var n int
	var err error
	if verified && p.vw != nil {
		n, err = p.vw.WriteVerified(bufs, offset)
	} else {
		n, err = p.dev.Write(bufs, offset)
	}
	if err != nil && n < len(bufs) {
		p.Stats.Drops.Add(DropDeviceError, uint64(len(bufs)-n))
	}
	p.Stats.RxPackets.Add(uint64(n))
	p.Stats.RxBytes.Add(bytes)
}
