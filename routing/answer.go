package routing

import (
	"net/netip"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/internal/packet"
)

// answer handles ARP requests and IPv6 neighbour solicitations locally. It
// returns true when the frame needs no forwarding: it was answered, or it
// asks about an endpoint behind this same device (the local segment answers
// that itself). Questions about unknown addresses are left to replication.
func (p *Port) answer(net *Network, frame []byte) bool {
	var (
		arp    ARP
		ns     NS
		target netip.Addr
	)
	switch packet.EtherType(frame) {
	case packet.EtherTypeARP:
		req, err := ParseARP(frame[packet.EthHeaderLen:])
		if err != nil || req.Op != arpOpRequest || req.IsGratuitous() {
			return false
		}
		arp, target = req, req.TargetIP
	case packet.EtherTypeIPv6:
		ip := frame[packet.EthHeaderLen:]
		if len(ip) < packet.IPv6HeaderLen+nsMinLen || ip[6] != packet.ProtoICMPv6 || ip[packet.IPv6HeaderLen] != icmpNS {
			return false
		}
		q, err := ParseNS(packet.SrcMAC(frame), ip)
		if err != nil {
			return false
		}
		ns, target = q, q.Target
	default:
		return false
	}
	mac, local, ok := p.resolve(net, target)
	if !ok || local {
		return ok
	}
	b := p.replies[len(p.replyOut)]
	n := 0
	if ns.Target.IsValid() {
		n = WriteNA(b[encap.Headroom:], ns, mac)
		p.Stats.NDReplies.Add(1)
	} else {
		n = WriteARPReply(b[encap.Headroom:], arp, mac)
		p.Stats.ARPReplies.Add(1)
	}
	p.replyOut = append(p.replyOut, b[:encap.Headroom+n])
	return true
}

// resolve finds the MAC that owns ip: a remote endpoint, a service VIP, or a
// local endpoint (local = true, nothing to answer).
func (p *Port) resolve(net *Network, ip netip.Addr) (mac packet.MAC, local, ok bool) {
	if m, peer, ok := net.LookupIP(ip); ok {
		return m, peer == nil, true
	}
	if h := p.f.cfg.Hook; h != nil {
		if m, ok := h.LookupVIP(p.vni, ip); ok {
			return m, false, true
		}
	}
	return packet.MAC{}, false, false
}

// flushReplies writes the locally built answers back to the device.
func (p *Port) flushReplies() {
	if len(p.replyOut) == 0 {
		return
	}
	if _, err := p.dev.Write(p.replyOut, encap.Headroom); err != nil {
		p.Stats.Drops.Add(DropDeviceError, uint64(len(p.replyOut)))
	}
	clear(p.replyOut)
	p.replyOut = p.replyOut[:0]
}
