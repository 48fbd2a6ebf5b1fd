package tun

// Ethernet framing for L3 devices. A TUN device carries bare IP packets but
// the data path speaks Ethernet, so on Read the device invents a header for
// every packet (l3Framer.frame) and on Write it checks and strips one
// (classifyFrame). Both are pure functions over caller buffers: no
// allocation, no locks; the Neighbors lookup is the only outside call.

import (
	"encoding/binary"
	"net/netip"
)

// EtherTypes meshnet's L3 devices understand.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeARP  = 0x0806
	EtherTypeIPv6 = 0x86DD
)

// Smallest IP headers; anything shorter is not a packet.
const (
	ipv4MinHeaderLen = 20
	ipv6HeaderLen    = 40
)

// BroadcastMAC returns ff:ff:ff:ff:ff:ff.
func BroadcastMAC() MAC { return MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} }

// l3Framer writes the Ethernet header a TUN device puts in front of each IP
// packet it reads. It is immutable after construction.
type l3Framer struct {
	mac    MAC       // source of every frame
	nb     Neighbors // unicast destination lookup
	bcast4 []uint32  // directed broadcast addresses of the device's prefixes
}

func newL3Framer(mac MAC, nb Neighbors, prefixes []netip.Prefix) l3Framer {
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
	mac MAC
}

// frameMemo is frame, looking unicast destinations up through m when
// it is not nil.
func (f *l3Framer) frameMemo(b []byte, m *neighMemo) DropReason {
	if len(b) <= EthHeaderLen {
		return DropNotIP
	}
	pkt := b[EthHeaderLen:]
	var (
		dst   MAC
		etype uint16
	)
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) < ipv4MinHeaderLen {
			return DropNotIP
		}
		dst, etype = f.dst4([4]byte(pkt[16:20]), m), EtherTypeIPv4
	case 6:
		if len(pkt) < ipv6HeaderLen {
			return DropNotIP
		}
		dst, etype = f.dst6([16]byte(pkt[24:40]), m), EtherTypeIPv6
	default:
		return DropNotIP
	}
	copy(b[0:6], dst[:])
	copy(b[6:12], f.mac[:])
	binary.BigEndian.PutUint16(b[12:14], etype)
	return DropNone
}

func (f *l3Framer) dst4(ip [4]byte, m *neighMemo) MAC {
	a := binary.BigEndian.Uint32(ip[:])
	if a == 0xffffffff {
		return BroadcastMAC()
	}
	if ip[0]&0xf0 == 0xe0 {
		// RFC 1112: 01:00:5e and the low 23 bits of the group.
		return MAC{0x01, 0x00, 0x5e, ip[1] & 0x7f, ip[2], ip[3]}
	}
	for _, b := range f.bcast4 {
		if a == b {
			return BroadcastMAC()
		}
	}
	return f.lookup(netip.AddrFrom4(ip), m)
}

func (f *l3Framer) dst6(ip [16]byte, m *neighMemo) MAC {
	if ip[0] == 0xff {
		// RFC 2464: 33:33 and the low 32 bits of the group.
		return MAC{0x33, 0x33, ip[12], ip[13], ip[14], ip[15]}
	}
	return f.lookup(netip.AddrFrom16(ip), m)
}

func (f *l3Framer) lookup(ip netip.Addr, m *neighMemo) MAC {
	if m != nil && m.ip == ip {
		return m.mac
	}
	mac, ok := f.nb.LookupMAC(ip)
	if !ok {
		mac = MAC{}
	}
	if m != nil {
		m.ip, m.mac = ip, mac
	}
	return mac
}

// classifyFrame decides whether an Ethernet frame may be written to an L3
// device whose own MAC is own. On DropNone the IP packet is
// frame[EthHeaderLen:]: stripping the header is only a matter of offset.
func classifyFrame(frame []byte, own MAC) DropReason {
	if len(frame) < EthHeaderLen {
		return DropRunt
	}
	var (
		version byte
		minLen  int
	)
	switch binary.BigEndian.Uint16(frame[12:14]) {
	case EtherTypeIPv4:
		version, minLen = 4, ipv4MinHeaderLen
	case EtherTypeIPv6:
		version, minLen = 6, ipv6HeaderLen
	case EtherTypeARP:
		return DropARP
	default:
		return DropEtherType
	}
	// The group bit covers broadcast and multicast alike.
	if dst := MAC(frame[0:6]); dst != own && dst[0]&1 == 0 {
		return DropDstMAC
	}
	pkt := frame[EthHeaderLen:]
	if len(pkt) < minLen {
		return DropRunt
	}
	if pkt[0]>>4 != version {
		return DropIPVersion
	}
	return DropNone
}
