package lb

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"meshnet.dev/meshnet/internal/packet"
)

// pktOpts shapes test packets beyond their 5-tuple.
type pktOpts struct {
	tcpFlags     uint8
	icmpType     uint8 // for ICMP: 0 means echo request (or reply, see below)
	icmpReply    bool  // build an echo reply
	ipv4Options  int   // bytes of IPv4 options (multiple of 4)
	ipv6DestOpts bool  // put a destination-options header before the transport
	noUDPCsum    bool  // IPv4 UDP without checksum
	payload      []byte
}

// buildIP builds a complete IPv4 or IPv6 packet with correct checksums. For
// ICMP the source port is used as the echo identifier.
func buildIP(t testing.TB, proto Proto, src, dst netip.AddrPort, o pktOpts) []byte {
	t.Helper()
	var l4 []byte
	switch proto {
	case ProtoTCP:
		l4 = make([]byte, packet.TCPMinHeaderLen)
		binary.BigEndian.PutUint16(l4[0:], src.Port())
		binary.BigEndian.PutUint16(l4[2:], dst.Port())
		l4[12] = 5 << 4
		l4[13] = o.tcpFlags
	case ProtoUDP:
		l4 = make([]byte, packet.UDPHeaderLen)
		binary.BigEndian.PutUint16(l4[0:], src.Port())
		binary.BigEndian.PutUint16(l4[2:], dst.Port())
		binary.BigEndian.PutUint16(l4[4:], uint16(packet.UDPHeaderLen+len(o.payload)))
	case ProtoICMP, ProtoICMPv6:
		l4 = make([]byte, icmpEchoLen)
		l4[0] = o.icmpType
		if o.icmpType == 0 {
			l4[0] = icmpEchoRequest
			if proto == ProtoICMPv6 {
				l4[0] = icmpv6EchoRequest
			}
			if o.icmpReply {
				l4[0] = icmpEchoReply
				if proto == ProtoICMPv6 {
					l4[0] = icmpv6EchoReply
				}
			}
		}
		binary.BigEndian.PutUint16(l4[4:], src.Port())
		binary.BigEndian.PutUint16(l4[6:], 7) // sequence
	default:
		t.Fatalf("buildIP: protocol %v", proto)
	}
	l4 = append(l4, o.payload...)

	var pkt []byte
	var l4Off int
	if src.Addr().Is4() {
		hl := packet.IPv4MinHeaderLen + o.ipv4Options
		pkt = make([]byte, hl, hl+len(l4))
		pkt[0] = 0x40 | byte(hl/4)
		binary.BigEndian.PutUint16(pkt[2:], uint16(hl+len(l4)))
		binary.BigEndian.PutUint16(pkt[4:], 0x1234)
		pkt[8], pkt[9] = 64, byte(proto)
		s, d := src.Addr().As4(), dst.Addr().As4()
		copy(pkt[12:], s[:])
		copy(pkt[16:], d[:])
		for i := packet.IPv4MinHeaderLen; i < hl; i++ {
			pkt[i] = 1 // NOP options
		}
		binary.BigEndian.PutUint16(pkt[10:], ipv4HeaderChecksum(pkt[:hl]))
		l4Off = hl
	} else {
		pkt = make([]byte, packet.IPv6HeaderLen, packet.IPv6HeaderLen+8+len(l4))
		pkt[0] = 0x60
		pkt[6], pkt[7] = byte(proto), 64
		s, d := src.Addr().As16(), dst.Addr().As16()
		copy(pkt[8:], s[:])
		copy(pkt[24:], d[:])
		if o.ipv6DestOpts {
			pkt[6] = 60
			pkt = append(pkt, byte(proto), 0, 1, 4, 0, 0, 0, 0) // PadN option
		}
		binary.BigEndian.PutUint16(pkt[4:], uint16(len(pkt)-packet.IPv6HeaderLen+len(l4)))
		l4Off = len(pkt)
	}
	pkt = append(pkt, l4...)
	if proto == ProtoUDP && o.noUDPCsum {
		return pkt
	}
	off := l4Off + csumOffset(proto)
	cs := l4Checksum(pkt, l4Off, proto, off)
	if proto == ProtoUDP && cs == 0 {
		cs = 0xffff
	}
	binary.BigEndian.PutUint16(pkt[off:], cs)
	return pkt
}

// buildFrame wraps an IP packet in an Ethernet header.
func buildFrame(dstMAC, srcMAC [6]byte, ip []byte) []byte {
	f := make([]byte, packet.EthHeaderLen, packet.EthHeaderLen+len(ip))
	copy(f[0:6], dstMAC[:])
	copy(f[6:12], srcMAC[:])
	et := uint16(packet.EtherTypeIPv4)
	if ip[0]>>4 == 6 {
		et = packet.EtherTypeIPv6
	}
	binary.BigEndian.PutUint16(f[12:], et)
	return append(f, ip...)
}

func csumOffset(proto Proto) int {
	switch proto {
	case ProtoTCP:
		return 16
	case ProtoUDP:
		return 6
	}
	return 2
}

// l4Checksum computes the transport checksum of the datagram ip (IP header
// first) whose transport header starts at l4, counting the checksum field at
// csumOff as zero. TCP, UDP and ICMPv6 include the pseudo-header.
func l4Checksum(ip []byte, l4 int, proto Proto, csumOff int) uint16 {
	var s uint64
	if proto != ProtoICMP {
		if ip[0]>>4 == 4 {
			s = packet.PseudoHeaderSum(ip[12:16], ip[16:20], uint8(proto), len(ip)-l4)
		} else {
			s = packet.PseudoHeaderSum(ip[8:24], ip[24:40], uint8(proto), len(ip)-l4)
		}
	}
	s = packet.Sum(s, ip[l4:csumOff])
	return packet.Checksum(ip[csumOff+2:], s)
}

// ipv4HeaderChecksum computes the IPv4 header checksum of hdr with the
// checksum field counted as zero.
func ipv4HeaderChecksum(hdr []byte) uint16 {
	return packet.Checksum(hdr[12:], packet.Sum(0, hdr[:10]))
}

// csumEqual compares checksums as one's-complement numbers: 0x0000 and
// 0xffff are both zero.
func csumEqual(a, b uint16) bool {
	return a == b || (a == 0 || a == 0xffff) && (b == 0 || b == 0xffff)
}

// checksumState recomputes the checksums NAT maintains for the parsed packet
// and reports whether the stored ones are right. A missing IPv4 UDP checksum
// counts as right.
type checksumState struct{ ip, l4 bool }

func checkChecksums(pkt []byte, p *ipPacket) checksumState {
	st := checksumState{ip: true, l4: true}
	if !p.v6 {
		hl := int(pkt[0]&0x0f) * 4
		st.ip = csumEqual(binary.BigEndian.Uint16(pkt[10:]), ipv4HeaderChecksum(pkt[:hl]))
	}
	if !p.hasPorts {
		return st
	}
	if p.fragment {
		return st // the transport checksum covers bytes we do not have
	}
	ip := pkt[:p.end]
	off := p.l4 + csumOffset(p.proto)
	got := binary.BigEndian.Uint16(ip[off:])
	want := l4Checksum(ip, p.l4, p.proto, off)
	switch {
	case p.proto == ProtoUDP && !p.v6 && got == 0:
	case p.proto == ProtoUDP && got == 0:
		st.l4 = false // IPv6 UDP must carry one
	default:
		st.l4 = csumEqual(got, want)
	}
	return st
}

func mustParse(t testing.TB, pkt []byte) ipPacket {
	t.Helper()
	var p ipPacket
	if err := parseIP(pkt, &p); err != nil {
		t.Fatalf("parse: %v", err)
	}
	return p
}
