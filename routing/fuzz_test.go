package routing

import (
	"net/netip"
	"testing"

	"meshnet.dev/meshnet/internal/packet"
)

func FuzzParseARP(f *testing.F) {
	f.Add(arpRequest(packet.MAC{2, 0, 0, 0, 0, 1}, netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"))[packet.EthHeaderLen:])
	f.Add([]byte{0, 1, 8, 0, 6, 4})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseARP(b)
		if err != nil {
			return
		}
		out := make([]byte, arpFrameLen)
		WriteARPReply(out, a, packet.MAC{2})
		if _, err := ParseARP(out[packet.EthHeaderLen:]); err != nil {
			t.Fatalf("our own reply does not parse: %v", err)
		}
	})
}

func FuzzParseNS(f *testing.F) {
	f.Add(nsFrame(packet.MAC{2, 0, 0, 0, 0, 1}, netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2"))[packet.EthHeaderLen:])
	f.Add(nsFrame(packet.MAC{2}, netip.IPv6Unspecified(), netip.MustParseAddr("fe80::1"))[packet.EthHeaderLen:])
	f.Fuzz(func(t *testing.T, b []byte) {
		ns, err := ParseNS(packet.MAC{2, 1}, b)
		if err != nil {
			return
		}
		out := make([]byte, naFrameLen)
		WriteNA(out, ns, packet.MAC{2, 2})
		ip := out[packet.EthHeaderLen:]
		if icmpv6Checksum([16]byte(ip[8:24]), [16]byte(ip[24:40]), ip[packet.IPv6HeaderLen:]) != 0 {
			t.Fatal("NA checksum does not verify")
		}
	})
}

// FuzzEthernetFrame feeds arbitrary frames to the outbound classifier pieces
// that look inside them.
func FuzzEthernetFrame(f *testing.F) {
	f.Add(arpRequest(packet.MAC{2, 0, 0, 0, 0, 1}, netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")))
	f.Add(nsFrame(packet.MAC{2, 0, 0, 0, 0, 1}, netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2")))
	f.Add(make([]byte, packet.EthHeaderLen))
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) < packet.EthHeaderLen {
			return
		}
		_ = sourceIP(frame)
		_ = packet.DstMAC(frame)
	})
}
