package lb

import (
	"bytes"
	"net/netip"
	"testing"

	"meshnet.dev/meshnet/internal/packet"
)

// FuzzBalancerFrame passes arbitrary frames through Outbound and Inbound.
// Nothing may panic or change a frame's length; dropped frames stay
// untouched; a translated frame must be addressed to a backend (Outbound)
// or come from the VIP (Inbound), with every checksum that was right before
// still right.
func FuzzBalancerFrame(f *testing.F) {
	e := newLBEnv(f, 256)
	svc6 := Service{Name: "v6", Network: "blue", VNI: e.vni, VIP: netip.MustParseAddr("fd07::100"), Ports: []PortSpec{{80, ProtoTCP}}, Mode: ModeVIP}
	e.update([]Service{webService(e.vni), svc6}, append(e.backends("web", "10.7.0.11:0", "10.7.0.12:0"), e.backends("v6", "[fd07::11]:0")...))
	backends := map[netip.Addr]bool{
		netip.MustParseAddr("10.7.0.11"): true, netip.MustParseAddr("10.7.0.12"): true, netip.MustParseAddr("fd07::11"): true,
	}

	client := netip.MustParseAddrPort("10.7.0.2:40000")
	client6 := netip.MustParseAddrPort("[fd07::2]:40000")
	for _, fr := range [][]byte{
		buildFrame(ServiceMAC(7), clientMAC, buildIP(f, ProtoTCP, client, netip.MustParseAddrPort("10.7.0.100:80"), pktOpts{tcpFlags: tcpSYN})),
		buildFrame(ServiceMAC(7), clientMAC, buildIP(f, ProtoUDP, client, netip.MustParseAddrPort("10.7.0.100:53"), pktOpts{payload: []byte("q")})),
		buildFrame(ServiceMAC(7), clientMAC, buildIP(f, ProtoICMP, client, netip.MustParseAddrPort("10.7.0.100:0"), pktOpts{})),
		buildFrame(ServiceMAC(7), clientMAC, buildIP(f, ProtoTCP, client6, netip.MustParseAddrPort("[fd07::100]:80"), pktOpts{ipv6DestOpts: true})),
		buildFrame(clientMAC, clientMAC, buildIP(f, ProtoTCP, netip.MustParseAddrPort("10.7.0.11:80"), client, pktOpts{tcpFlags: tcpSYN | tcpACK})),
		buildFrame(clientMAC, clientMAC, buildIP(f, ProtoICMP, netip.MustParseAddrPort("10.7.0.11:40000"), client, pktOpts{icmpReply: true})),
	} {
		f.Add(fr)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		for _, inbound := range []bool{false, true} {
			fr := bytes.Clone(frame)
			var before ipPacket
			parsedBefore := len(fr) > packet.EthHeaderLen && parseIP(fr[packet.EthHeaderLen:], &before) == nil
			var v packet.Verdict
			if inbound {
				v = e.b.Inbound(e.vni, fr)
			} else {
				v = e.b.Outbound(e.vni, fr)
			}
			if len(fr) != len(frame) {
				t.Fatal("frame length changed")
			}
			if bytes.Equal(fr, frame) {
				continue
			}
			if v == packet.Drop {
				t.Fatal("dropped frame was modified")
			}
			if !parsedBefore {
				t.Fatal("a frame that does not parse was modified")
			}
			var after ipPacket
			if err := parseIP(fr[packet.EthHeaderLen:], &after); err != nil {
				t.Fatalf("translated frame no longer parses: %v", err)
			}
			switch {
			case !inbound && (!backends[after.dst.Addr()] || dstMAC(fr) != backendMAC(after.dst.Addr())):
				t.Fatalf("Outbound sent the frame to %v (MAC %x), not a backend", after.dst, dstMAC(fr))
			case inbound && (!e.isVIP(e.vni, after.src.Addr()) || srcMAC(fr) != ServiceMAC(e.vni)):
				t.Fatalf("Inbound rewrote the source to %v (MAC %x), not a VIP", after.src, srcMAC(fr))
			}
			was := checkChecksums(frame[packet.EthHeaderLen:], &before)
			now := checkChecksums(fr[packet.EthHeaderLen:], &after)
			if was.ip && !now.ip || was.l4 && !now.l4 {
				t.Fatalf("checksums broken by translation: before %+v after %+v", was, now)
			}
		}
	})
}
