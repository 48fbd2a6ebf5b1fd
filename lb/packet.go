package lb

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"meshnet.dev/meshnet/internal/packet"
)

// Header sizes and field values the parser relies on.
const (
	icmpEchoLen = 8

	icmpEchoReply     = 0
	icmpEchoRequest   = 8
	icmpv6EchoRequest = 128
	icmpv6EchoReply   = 129

	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpACK = 0x10

	// maxIPv6ExtHeaders bounds the extension-header walk on untrusted input.
	maxIPv6ExtHeaders = 8
)

// Sentinel errors from parsing and NAT.
var (
	ErrShort     = errors.New("lb: packet is shorter than its headers claim")
	ErrNotIP     = errors.New("lb: not an IPv4 or IPv6 packet")
	ErrFragment  = errors.New("lb: packet is a non-first fragment and carries no ports")
	ErrNoPorts   = errors.New("lb: packet is not TCP, UDP or ICMP echo")
	ErrMalformed = errors.New("lb: malformed transport header")
	ErrFamily    = errors.New("lb: new address is not the packet's IP family")
)

// ipPacket locates what NAT reads and rewrites in one IP packet.
type ipPacket struct {
	v6       bool
	fragment bool // part of a fragmented datagram (first or later)
	hasPorts bool // TCP, UDP or ICMP echo with its header present
	proto    Proto
	l4       int // offset of the transport header
	end      int // end of the IP datagram (Ethernet padding excluded)
	src, dst netip.AddrPort
	tcpFlags uint8
	icmpType uint8
}

// parseIP fills p from the IP packet at the start of b. Non-first fragments
// and protocols without ports parse without error but leave hasPorts false.
func parseIP(b []byte, p *ipPacket) error {
	*p = ipPacket{}
	if len(b) < 1 {
		return ErrShort
	}
	var srcIP, dstIP netip.Addr
	switch b[0] >> 4 {
	case 4:
		if len(b) < packet.IPv4MinHeaderLen {
			return ErrShort
		}
		ihl := int(b[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(b[2:4]))
		if ihl < packet.IPv4MinHeaderLen || total < ihl || total > len(b) {
			return ErrShort
		}
		p.end, p.l4, p.proto = total, ihl, Proto(b[9])
		srcIP = netip.AddrFrom4([4]byte(b[12:16]))
		dstIP = netip.AddrFrom4([4]byte(b[16:20]))
		frag := binary.BigEndian.Uint16(b[6:8])
		p.fragment = frag&0x3fff != 0 // MF set or offset non-zero
		if frag&0x1fff != 0 {
			p.src, p.dst = netip.AddrPortFrom(srcIP, 0), netip.AddrPortFrom(dstIP, 0)
			return nil // later fragment: no transport header
		}
	case 6:
		if len(b) < packet.IPv6HeaderLen {
			return ErrShort
		}
		plen := int(binary.BigEndian.Uint16(b[4:6]))
		if plen == 0 || packet.IPv6HeaderLen+plen > len(b) {
			return ErrShort // jumbograms are not supported
		}
		p.v6, p.end = true, packet.IPv6HeaderLen+plen
		srcIP = netip.AddrFrom16([16]byte(b[8:24]))
		dstIP = netip.AddrFrom16([16]byte(b[24:40]))
		later, err := walkIPv6Ext(b[:p.end], p)
		if err != nil {
			return err
		}
		if later {
			p.src, p.dst = netip.AddrPortFrom(srcIP, 0), netip.AddrPortFrom(dstIP, 0)
			return nil
		}
	default:
		return ErrNotIP
	}
	sport, dport, err := parseL4(b[p.l4:p.end], p)
	if err != nil {
		return err
	}
	p.src, p.dst = netip.AddrPortFrom(srcIP, sport), netip.AddrPortFrom(dstIP, dport)
	return nil
}

// walkIPv6Ext follows extension headers to the transport header, setting
// p.proto and p.l4. It reports whether the packet is a non-first fragment.
func walkIPv6Ext(b []byte, p *ipPacket) (laterFragment bool, err error) {
	next, off := b[6], packet.IPv6HeaderLen
	for range maxIPv6ExtHeaders {
		switch next {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if off+8 > len(b) {
				return false, ErrShort
			}
			next, off = b[off], off+(int(b[off+1])+1)*8
		case 44: // fragment
			if off+8 > len(b) {
				return false, ErrShort
			}
			p.fragment = true
			if binary.BigEndian.Uint16(b[off+2:off+4])&0xfff8 != 0 {
				p.proto, p.l4 = Proto(b[off]), off+8
				return true, nil
			}
			next, off = b[off], off+8
		default:
			if off > len(b) {
				return false, ErrShort
			}
			p.proto, p.l4 = Proto(next), off
			return false, nil
		}
	}
	return false, ErrMalformed // too many extension headers to follow
}

// parseL4 reads the ports (or echo identifier) and flags of the transport
// header in b, which runs to the end of the datagram.
func parseL4(b []byte, p *ipPacket) (sport, dport uint16, err error) {
	switch p.proto {
	case ProtoTCP:
		if len(b) < packet.TCPMinHeaderLen {
			return 0, 0, ErrMalformed
		}
		p.tcpFlags = b[13]
	case ProtoUDP:
		if len(b) < packet.UDPHeaderLen {
			return 0, 0, ErrMalformed
		}
		if p.v6 && b[6] == 0 && b[7] == 0 {
			return 0, 0, ErrMalformed // IPv6 forbids a zero UDP checksum
		}
	case ProtoICMP, ProtoICMPv6:
		if (p.proto == ProtoICMP) == p.v6 {
			return 0, 0, nil // ICMP over the wrong IP version: leave alone
		}
		if len(b) < icmpEchoLen {
			return 0, 0, ErrMalformed
		}
		p.icmpType = b[0]
		if !isEcho(p.proto, p.icmpType) || b[1] != 0 {
			return 0, 0, nil // errors and other messages carry no identifier
		}
		id := binary.BigEndian.Uint16(b[4:6])
		p.hasPorts = true
		return id, id, nil
	default:
		return 0, 0, nil
	}
	p.hasPorts = true
	return binary.BigEndian.Uint16(b[0:2]), binary.BigEndian.Uint16(b[2:4]), nil
}

func isEcho(proto Proto, typ uint8) bool {
	if proto == ProtoICMP {
		return typ == icmpEchoRequest || typ == icmpEchoReply
	}
	return typ == icmpv6EchoRequest || typ == icmpv6EchoReply
}

// isEchoRequest reports whether an ICMP packet asks for an echo (as opposed
// to answering one).
func isEchoRequest(proto Proto, typ uint8) bool {
	return (proto == ProtoICMP && typ == icmpEchoRequest) || (proto == ProtoICMPv6 && typ == icmpv6EchoRequest)
}
