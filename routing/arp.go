package routing

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"meshnet.dev/meshnet/internal/packet"
)

// ARP for IPv4 over Ethernet (RFC 826):
//
//	 0        2        4    5    6        8
//	+--------+--------+----+----+--------+
//	| htype  | ptype  |hlen|plen|  oper  |
//	+--------+--------+----+----+--------+------------------+
//	|  sender hardware address (6)  | sender IP (4)         |
//	|  target hardware address (6)  | target IP (4)         |
//	+-------------------------------+-----------------------+
const (
	arpLen        = 28
	arpOpRequest  = 1
	arpOpReply    = 2
	arpFrameLen   = packet.EthHeaderLen + arpLen
	arpHTypeEther = 1
)

// Errors from ParseARP.
var (
	ErrARPShort       = errors.New("arp: packet too short")
	ErrARPUnsupported = errors.New("arp: not IPv4 over Ethernet")
)

// ARP is a decoded IPv4-over-Ethernet ARP packet.
type ARP struct {
	Op        uint16
	SenderMAC packet.MAC
	SenderIP  netip.Addr
	TargetMAC packet.MAC
	TargetIP  netip.Addr
}

// ParseARP decodes the ARP packet in b (the Ethernet payload).
func ParseARP(b []byte) (ARP, error) {
	if len(b) < arpLen {
		return ARP{}, ErrARPShort
	}
	if binary.BigEndian.Uint16(b[0:2]) != arpHTypeEther ||
		binary.BigEndian.Uint16(b[2:4]) != packet.EtherTypeIPv4 || b[4] != 6 || b[5] != 4 {
		return ARP{}, ErrARPUnsupported
	}
	return ARP{
		Op:        binary.BigEndian.Uint16(b[6:8]),
		SenderMAC: packet.MAC(b[8:14]),
		SenderIP:  netip.AddrFrom4([4]byte(b[14:18])),
		TargetMAC: packet.MAC(b[18:24]),
		TargetIP:  netip.AddrFrom4([4]byte(b[24:28])),
	}, nil
}

// IsGratuitous reports whether a is an announcement of the sender's own
// address rather than a question.
func (a ARP) IsGratuitous() bool { return a.SenderIP == a.TargetIP }

// WriteARPReply writes into b a complete Ethernet frame answering req with
// "req.TargetIP is at mac" and returns its length. b must hold arpFrameLen
// bytes.
func WriteARPReply(b []byte, req ARP, mac packet.MAC) int {
	packet.PutEthHeader(b, req.SenderMAC, mac, packet.EtherTypeARP)
	p := b[packet.EthHeaderLen:arpFrameLen]
	binary.BigEndian.PutUint16(p[0:2], arpHTypeEther)
	binary.BigEndian.PutUint16(p[2:4], packet.EtherTypeIPv4)
	p[4], p[5] = 6, 4
	binary.BigEndian.PutUint16(p[6:8], arpOpReply)
	copy(p[8:14], mac[:])
	t := req.TargetIP.As4()
	copy(p[14:18], t[:])
	copy(p[18:24], req.SenderMAC[:])
	s := req.SenderIP.As4()
	copy(p[24:28], s[:])
	return arpFrameLen
}
