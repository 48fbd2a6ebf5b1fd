package routing

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"meshnet.dev/meshnet/internal/packet"
)

// IPv6 neighbour discovery (RFC 4861): the forwarder answers neighbour
// solicitations for known endpoints with neighbour advertisements, as it does
// ARP for IPv4.
//
// Neighbour advertisement as written here:
//
//	IPv6 header (40) | type=136 | code | checksum |R|S|O| reserved (29 bits) |
//	target address (16) | option: type=2, len=1, target link-layer address (6)
const (
	icmpNS          = 135
	icmpNA          = 136
	ndpHopLimit     = 255
	nsMinLen        = 24 // type, code, checksum, reserved, target
	naLen           = 32
	naFrameLen      = packet.EthHeaderLen + packet.IPv6HeaderLen + naLen
	ndOptSourceLL   = 1
	ndOptTargetLL   = 2
	naFlagSolicited = 0x40
	naFlagOverride  = 0x20
)

// ErrNotNS reports that a frame is not a well-formed neighbour solicitation.
var ErrNotNS = errors.New("ndp: not a neighbour solicitation")

// NS is a decoded neighbour solicitation.
type NS struct {
	SrcMAC packet.MAC
	SrcIP  netip.Addr // unspecified during duplicate address detection
	Target netip.Addr
}

// ParseNS decodes a neighbour solicitation from an IPv6 packet (the Ethernet
// payload). It checks what RFC 4861 section 7.1.1 asks of a receiver that
// matters here: hop limit 255, ICMPv6 code 0, length, and a target that is
// not multicast. It does not verify the checksum: the answer only reveals
// what the table would tell anyone who asks.
func ParseNS(srcMAC packet.MAC, ip []byte) (NS, error) {
	if len(ip) < packet.IPv6HeaderLen+nsMinLen || ip[0]>>4 != 6 ||
		ip[6] != packet.ProtoICMPv6 || ip[7] != ndpHopLimit {
		return NS{}, ErrNotNS
	}
	plen := int(binary.BigEndian.Uint16(ip[4:6]))
	if plen < nsMinLen || packet.IPv6HeaderLen+plen > len(ip) {
		return NS{}, ErrNotNS
	}
	icmp := ip[packet.IPv6HeaderLen : packet.IPv6HeaderLen+plen]
	if icmp[0] != icmpNS || icmp[1] != 0 {
		return NS{}, ErrNotNS
	}
	target := netip.AddrFrom16([16]byte(icmp[8:24]))
	if target.IsMulticast() {
		return NS{}, ErrNotNS
	}
	return NS{
		SrcMAC: srcMAC,
		SrcIP:  netip.AddrFrom16([16]byte(ip[8:24])),
		Target: target,
	}, nil
}

// WriteNA writes into b a complete Ethernet frame advertising that ns.Target
// is at mac, and returns its length. b must hold naFrameLen bytes.
func WriteNA(b []byte, ns NS, mac packet.MAC) int {
	dstIP, flags := ns.SrcIP, byte(naFlagSolicited|naFlagOverride)
	if dstIP.IsUnspecified() {
		// Duplicate address detection: tell all nodes, unsolicited.
		dstIP, flags = netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 15: 1}), naFlagOverride
	}
	packet.PutEthHeader(b, ns.SrcMAC, mac, packet.EtherTypeIPv6)
	ip := b[packet.EthHeaderLen:naFrameLen]
	clear(ip[:8])
	ip[0] = 6 << 4
	binary.BigEndian.PutUint16(ip[4:6], naLen)
	ip[6], ip[7] = packet.ProtoICMPv6, ndpHopLimit
	src, dst := ns.Target.As16(), dstIP.As16()
	copy(ip[8:24], src[:])
	copy(ip[24:40], dst[:])
	icmp := ip[packet.IPv6HeaderLen:]
	clear(icmp[:8])
	icmp[0], icmp[4] = icmpNA, flags
	copy(icmp[8:24], src[:])
	icmp[24], icmp[25] = ndOptTargetLL, 1
	copy(icmp[26:32], mac[:])
	binary.BigEndian.PutUint16(icmp[2:4], icmpv6Checksum(src, dst, icmp[:naLen]))
	return naFrameLen
}

// icmpv6Checksum computes the ICMPv6 checksum of msg sent from src to dst,
// covering the IPv6 pseudo-header (RFC 8200, section 8.1).
func icmpv6Checksum(src, dst [16]byte, msg []byte) uint16 {
	return packet.Checksum(msg, packet.PseudoHeaderSum(src[:], dst[:], packet.ProtoICMPv6, len(msg)))
}
