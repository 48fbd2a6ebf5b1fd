package tun

// Ethernet framing for L3 devices. A TUN device carries bare IP packets but
// the data path speaks Ethernet, so on Read the device invents a header for
// every packet (l3Framer.frame) and on Write it checks and strips one
// (classifyFrame). Both are pure functions over caller buffers: no
// allocation, no locks; the Neighbors lookup is the only outside call.

import (
	"encoding/binary"
	"net/netip"

	"meshnet.dev/meshnet/internal/packet"
)

// l3Framer writes the Ethernet header a TUN device puts in front of each IP
// packet it reads. It is immutable after construction.
type l3Framer struct {
	mac    packet.MAC // source of every frame
	nb     Neighbors  // unicast destination lookup
	bcast4 []uint32   // directed broadcast addresses of the device's prefixes
}

func newL3Framer(mac packet.MAC, nb Neighbors, prefixes []netip.Prefix) l3Framer {
	f := l3Framer{mac: mac, nb: nb}
	for _, p := range prefixes {
		// /31 and /32 have no broadcast address (RFC 3021).
		if !p.Addr().Is4() || p.Bits() > 30 {
			continue
		}
		a := p.Addr().As4()
		host := uint32(1)<<(32-p.Bits()) - 1
		f.bcast4 = append(f.bcast4, binary.BigEndian.Uint32(a[:])|host)
	}
	return f
}

// frame writes an Ethernet header into b[:EthHeaderLen] for the IP packet in
// b[EthHeaderLen:]. It returns DropNotIP, leaving b alone, when the packet is
// neither IPv4 nor IPv6 or shorter than its header. An unknown unicast
// neighbour gets the all-zero destination, which the forwarder counts and
// drops as unknown unicast.
func (f *l3Framer) frame(b []byte) DropReason { return f.frameMemo(b, nil) }

// neighMemo remembers the last unicast neighbour lookup over a batch of
// packets, which mostly go to one destination (a cut-up TCP super-packet
// always does).
type neighMemo struct {
	ip  netip.Addr
	mac packet.MAC
}

// frameMemo is frame, looking unicast destinations up through m when
// it is not nil.
func (f *l3Framer) frameMemo(b []byte, m *neighMemo) DropReason {
	if len(b) <= packet.EthHeaderLen {
		return DropNotIP
	}
	pkt := b[packet.EthHeaderLen:]
	var (
		dst   packet.MAC
		etype uint16
	)
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) < packet.IPv4MinHeaderLen {
			return DropNotIP
		}
		dst, etype = f.dst4([4]byte(pkt[16:20]), m), packet.EtherTypeIPv4
	case 6:
		if len(pkt) < packet.IPv6HeaderLen {
			return DropNotIP
		}
		dst, etype = f.dst6([16]byte(pkt[24:40]), m), packet.EtherTypeIPv6
	default:
		return DropNotIP
	}
	packet.PutEthHeader(b, dst, f.mac, etype)
	return DropNone
}

func (f *l3Framer) dst4(ip [4]byte, m *neighMemo) packet.MAC {
	a := binary.BigEndian.Uint32(ip[:])
	if a == 0xffffffff {
		return packet.BroadcastMAC()
	}
	if ip[0]&0xf0 == 0xe0 {
		// RFC 1112: 01:00:5e and the low 23 bits of the group.
		return packet.MAC{0x01, 0x00, 0x5e, ip[1] & 0x7f, ip[2], ip[3]}
	}
	for _, b := range f.bcast4 {
		if a == b {
			return packet.BroadcastMAC()
		}
	}
	return f.lookup(netip.AddrFrom4(ip), m)
}

func (f *l3Framer) dst6(ip [16]byte, m *neighMemo) packet.MAC {
	if ip[0] == 0xff {
		// RFC 2464: 33:33 and the low 32 bits of the group.
		return packet.MAC{0x33, 0x33, ip[12], ip[13], ip[14], ip[15]}
	}
	return f.lookup(netip.AddrFrom16(ip), m)
}

func (f *l3Framer) lookup(ip netip.Addr, m *neighMemo) packet.MAC {
	if m != nil && m.ip == ip {
		return m.mac
	}
	mac, ok := f.nb.LookupMAC(ip)
	if !ok {
		mac = packet.MAC{}
	}
	if m != nil {
		m.ip, m.mac = ip, mac
	}
	return mac
}

// classifyFrame decides whether an Ethernet frame may be written to an L3
// device whose own MAC is own. On DropNone the IP packet is
// frame[EthHeaderLen:]: stripping the header is only a matter of offset.
func classifyFrame(frame []byte, own packet.MAC) DropReason {
	if len(frame) < packet.EthHeaderLen {
		return DropRunt
	}
	var (
		version byte
		minLen  int
	)
	switch packet.EtherType(frame) {
	case packet.EtherTypeIPv4:
		version, minLen = 4, packet.IPv4MinHeaderLen
	case packet.EtherTypeIPv6:
		version, minLen = 6, packet.IPv6HeaderLen
	case packet.EtherTypeARP:
		return DropARP
	default:
		return DropEtherType
	}
	if dst := packet.DstMAC(frame); dst != own && !packet.IsMulticast(dst) {
		return DropDstMAC
	}
	pkt := frame[packet.EthHeaderLen:]
	if len(pkt) < minLen {
		return DropRunt
	}
	if pkt[0]>>4 != version {
		return DropIPVersion
	}
	return DropNone
}
