package routing

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"meshnet.dev/meshnet/internal/packet"
)

// arpRequest builds a broadcast ARP request frame "who has target? tell
// sender".
func arpRequest(senderMAC packet.MAC, sender, target netip.Addr) []byte {
	b := make([]byte, arpFrameLen)
	packet.PutEthHeader(b, packet.BroadcastMAC(), senderMAC, packet.EtherTypeARP)
	p := b[packet.EthHeaderLen:]
	binary.BigEndian.PutUint16(p[0:2], 1)
	binary.BigEndian.PutUint16(p[2:4], packet.EtherTypeIPv4)
	p[4], p[5] = 6, 4
	binary.BigEndian.PutUint16(p[6:8], arpOpRequest)
	copy(p[8:14], senderMAC[:])
	s, t := sender.As4(), target.As4()
	copy(p[14:18], s[:])
	copy(p[24:28], t[:])
	return b
}

// nsFrame builds a neighbour solicitation for target from src, sent to the
// target's solicited-node multicast group, with a valid checksum.
func nsFrame(srcMAC packet.MAC, src, target netip.Addr) []byte {
	t := target.As16()
	group := [16]byte{0: 0xff, 1: 0x02, 11: 1, 12: 0xff, 13: t[13], 14: t[14], 15: t[15]}
	b := make([]byte, packet.EthHeaderLen+packet.IPv6HeaderLen+32)
	packet.PutEthHeader(b, packet.MAC{0x33, 0x33, 0xff, t[13], t[14], t[15]}, srcMAC, packet.EtherTypeIPv6)
	ip := b[packet.EthHeaderLen:]
	ip[0] = 6 << 4
	binary.BigEndian.PutUint16(ip[4:6], 32)
	ip[6], ip[7] = packet.ProtoICMPv6, 255
	s := src.As16()
	copy(ip[8:24], s[:])
	copy(ip[24:40], group[:])
	icmp := ip[packet.IPv6HeaderLen:]
	icmp[0] = icmpNS
	copy(icmp[8:24], t[:])
	icmp[24], icmp[25] = ndOptSourceLL, 1
	copy(icmp[26:32], srcMAC[:])
	binary.BigEndian.PutUint16(icmp[2:4], icmpv6Checksum(s, group, icmp))
	return b
}

func TestARPReplyRoundTrip(t *testing.T) {
	asker := packet.MAC{2, 0, 0, 0, 0, 1}
	owner := packet.MAC{2, 0, 0, 0, 0, 2}
	req, err := ParseARP(arpRequest(asker, netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"))[packet.EthHeaderLen:])
	if err != nil {
		t.Fatal(err)
	}
	if req.Op != arpOpRequest || req.IsGratuitous() {
		t.Fatalf("parsed %+v", req)
	}
	b := make([]byte, arpFrameLen)
	n := WriteARPReply(b, req, owner)
	if packet.DstMAC(b) != asker || packet.SrcMAC(b) != owner || packet.EtherType(b) != packet.EtherTypeARP {
		t.Fatalf("bad Ethernet header % x", b[:14])
	}
	rep, err := ParseARP(b[packet.EthHeaderLen:n])
	if err != nil {
		t.Fatal(err)
	}
	want := ARP{Op: arpOpReply, SenderMAC: owner, SenderIP: req.TargetIP, TargetMAC: asker, TargetIP: req.SenderIP}
	if rep != want {
		t.Fatalf("reply %+v, want %+v", rep, want)
	}
}

func TestParseARPRejects(t *testing.T) {
	good := arpRequest(packet.MAC{2}, netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"))[packet.EthHeaderLen:]
	if _, err := ParseARP(good[:arpLen-1]); err != ErrARPShort {
		t.Errorf("short: %v", err)
	}
	bad := append([]byte(nil), good...)
	bad[4] = 8
	if _, err := ParseARP(bad); err != ErrARPUnsupported {
		t.Errorf("hlen 8: %v", err)
	}
}

func TestNeighbourAdvertisement(t *testing.T) {
	asker := packet.MAC{2, 0, 0, 0, 0, 1}
	owner := packet.MAC{2, 0, 0, 0, 0, 2}
	src := netip.MustParseAddr("fd00::1")
	target := netip.MustParseAddr("fd00::2")
	f := nsFrame(asker, src, target)
	ns, err := ParseNS(packet.SrcMAC(f), f[packet.EthHeaderLen:])
	if err != nil {
		t.Fatal(err)
	}
	if ns.Target != target || ns.SrcIP != src {
		t.Fatalf("parsed %+v", ns)
	}
	b := make([]byte, naFrameLen)
	WriteNA(b, ns, owner)
	ip := b[packet.EthHeaderLen:]
	icmp := ip[packet.IPv6HeaderLen:]
	if packet.DstMAC(b) != asker || packet.SrcMAC(b) != owner || icmp[0] != icmpNA || icmp[4]&naFlagSolicited == 0 {
		t.Fatalf("bad NA % x", b)
	}
	if netip.AddrFrom16([16]byte(icmp[8:24])) != target || packet.MAC(icmp[26:32]) != owner {
		t.Fatalf("NA target/option wrong")
	}
	s, d := [16]byte(ip[8:24]), [16]byte(ip[24:40])
	if got := icmpv6Checksum(s, d, icmp); got != 0 {
		// Summing a message that includes its own checksum gives zero after
		// the final complement only when the checksum is right.
		t.Fatalf("NA checksum does not verify (residual %#x)", got)
	}
}

func TestDADSolicitationAnsweredToAllNodes(t *testing.T) {
	f := nsFrame(packet.MAC{2, 9}, netip.IPv6Unspecified(), netip.MustParseAddr("fd00::2"))
	ns, err := ParseNS(packet.SrcMAC(f), f[packet.EthHeaderLen:])
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, naFrameLen)
	WriteNA(b, ns, packet.MAC{2, 2})
	if dst := netip.AddrFrom16([16]byte(b[packet.EthHeaderLen+24 : packet.EthHeaderLen+40])); dst != netip.MustParseAddr("ff02::1") {
		t.Fatalf("DAD answer sent to %v", dst)
	}
	if b[packet.EthHeaderLen+packet.IPv6HeaderLen+4]&naFlagSolicited != 0 {
		t.Fatal("DAD answer marked solicited")
	}
}

func TestParseNSRejectsHopLimit(t *testing.T) {
	f := nsFrame(packet.MAC{2}, netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2"))
	f[packet.EthHeaderLen+7] = 64
	if _, err := ParseNS(packet.SrcMAC(f), f[packet.EthHeaderLen:]); err != ErrNotNS {
		t.Fatalf("hop limit 64 accepted: %v", err)
	}
}
