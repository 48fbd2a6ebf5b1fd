package lb

import (
	"encoding/binary"
	"net/netip"

	"meshnet.dev/meshnet/internal/packet"
)

// DNAT rewrites the destination address and port of the IP packet pkt (which
// starts with its IPv4 or IPv6 header) to dst, in place, updating the IPv4
// header checksum and the TCP, UDP or ICMP checksum incrementally. For ICMP
// echo the identifier plays the port. dst must be of the packet's IP family.
// DNAT does not allocate.
func DNAT(pkt []byte, dst netip.AddrPort) error { return natIP(pkt, true, dst) }

// SNAT rewrites the source address and port of pkt to src; see DNAT.
func SNAT(pkt []byte, src netip.AddrPort) error { return natIP(pkt, false, src) }

func natIP(pkt []byte, dst bool, to netip.AddrPort) error {
	var p ipPacket
	if err := parseIP(pkt, &p); err != nil {
		return err
	}
	if !p.hasPorts {
		if p.fragment {
			return ErrFragment
		}
		return ErrNoPorts
	}
	if !sameFamily(&p, to.Addr()) {
		return ErrFamily
	}
	rewrite(pkt, &p, dst, to)
	return nil
}

func sameFamily(p *ipPacket, a netip.Addr) bool {
	if p.v6 {
		return a.Is6() && !a.Is4In6()
	}
	return a.Is4()
}

// rewrite replaces the destination (dst) or source address and port of the
// parsed packet p with to. p must have ports and match to's family.
func rewrite(pkt []byte, p *ipPacket, dst bool, to netip.AddrPort) {
	addrOff, addrLen := 12, 4
	var buf [16]byte
	if p.v6 {
		addrOff, addrLen = 8, 16
		buf = to.Addr().As16()
	} else {
		a4 := to.Addr().As4()
		copy(buf[:], a4[:])
	}
	if dst {
		addrOff += addrLen
	}
	oldAddr, newAddr := pkt[addrOff:addrOff+addrLen], buf[:addrLen]

	l4 := pkt[p.l4:p.end]
	portOff := 0
	switch {
	case p.proto == ProtoICMP || p.proto == ProtoICMPv6:
		portOff = 4 // echo identifier
	case dst:
		portOff = 2
	}
	oldPort, newPort := binary.BigEndian.Uint16(l4[portOff:]), to.Port()

	switch p.proto {
	case ProtoTCP:
		updateL4Checksum(l4[16:18], oldAddr, newAddr, oldPort, newPort)
	case ProtoUDP:
		c := l4[6:8]
		if !p.v6 && c[0] == 0 && c[1] == 0 {
			break // IPv4 UDP without a checksum stays without one
		}
		updateL4Checksum(c, oldAddr, newAddr, oldPort, newPort)
		if c[0] == 0 && c[1] == 0 {
			c[0], c[1] = 0xff, 0xff // zero means "none"; send its equal, 0xffff
		}
	case ProtoICMPv6:
		updateL4Checksum(l4[2:4], oldAddr, newAddr, oldPort, newPort)
	case ProtoICMP:
		c := l4[2:4]
		binary.BigEndian.PutUint16(c, packet.UpdateChecksum16(binary.BigEndian.Uint16(c), oldPort, newPort))
	}
	if !p.v6 {
		c := pkt[10:12]
		binary.BigEndian.PutUint16(c, packet.UpdateChecksum(binary.BigEndian.Uint16(c), oldAddr, newAddr))
	}
	copy(oldAddr, newAddr)
	binary.BigEndian.PutUint16(l4[portOff:], newPort)
}

// updateL4Checksum adjusts the checksum stored in c for a pseudo-header
// address and a port (or identifier) changing.
func updateL4Checksum(c, oldAddr, newAddr []byte, oldPort, newPort uint16) {
	cs := packet.UpdateChecksum(binary.BigEndian.Uint16(c), oldAddr, newAddr)
	cs = packet.UpdateChecksum16(cs, oldPort, newPort)
	binary.BigEndian.PutUint16(c, cs)
}
