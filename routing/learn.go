package routing

import (
	"encoding/binary"
	"net/netip"

	"meshnet.dev/meshnet/internal/packet"
)

// sourceIP returns the sender's address carried by an ARP, IPv4 or IPv6
// frame, if it has one.
func sourceIP(frame []byte) netip.Addr {
	payload := frame[packet.EthHeaderLen:]
	switch packet.EtherType(frame) {
	case packet.EtherTypeARP:
		if len(payload) >= arpLen && binary.BigEndian.Uint16(payload[2:4]) == packet.EtherTypeIPv4 {
			return netip.AddrFrom4([4]byte(payload[14:18]))
		}
	case packet.EtherTypeIPv4:
		if len(payload) >= packet.IPv4MinHeaderLen && payload[0]>>4 == 4 {
			return netip.AddrFrom4([4]byte(payload[12:16]))
		}
	case packet.EtherTypeIPv6:
		if len(payload) >= packet.IPv6HeaderLen && payload[0]>>4 == 6 {
			return netip.AddrFrom16([16]byte(payload[8:24]))
		}
	}
	return netip.Addr{}
}

// Learned reports an endpoint seen behind this node's device.
type Learned struct {
	VNI uint32
	MAC packet.MAC
	IP  netip.Addr // invalid when the frame revealed no address in the network
}

// maxPendingLearn bounds the sources a port remembers having reported while
// the table has not caught up, so a device spraying random MACs costs bounded
// memory; beyond it reports are simply retried on later frames.
const maxPendingLearn = 1024

// learn reports the frame's source if the snapshot does not yet know it as a
// local endpoint. Called from the port's Run goroutine only.
func (p *Port) learn(n *Network, frame []byte) {
	src := packet.SrcMAC(frame)
	if packet.IsMulticast(src) || packet.IsZero(src) {
		return
	}
	ip := sourceIP(frame)
	if ip.IsValid() && !n.Contains(ip) {
		ip = netip.Addr{}
	}
	k := epKey{src, ip}
	if p.knownOK && p.known == k {
		return // confirmed earlier in this batch, against the same snapshot
	}
	if _, local, ok := n.LookupMAC(src); ok && local {
		if !ip.IsValid() {
			p.known, p.knownOK = k, true
			return
		}
		if m, peer, ok := n.LookupIP(ip); ok && peer == nil && m == src {
			p.known, p.knownOK = k, true
			return
		}
	}
	if p.pendingFor != n {
		clear(p.pending)
		p.pendingFor = n
	}
	if _, ok := p.pending[k]; ok || len(p.pending) >= maxPendingLearn {
		return
	}
	if p.f.cfg.Learn != nil && p.f.cfg.Learn(Learned{VNI: p.vni, MAC: src, IP: ip}) {
		p.pending[k] = struct{}{}
	}
}
