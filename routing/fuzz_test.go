package routing

import (
	"net/netip"
	"testing"
)

func FuzzParseARP(f *testing.F) {
	f.Add(arpRequest(MAC{2, 0, 0, 0, 0, 1}, netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"))[EthHeaderLen:])
	f.Add([]byte{0, 1, 8, 0, 6, 4})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseARP(b)
		if err != nil {
			return
		}
		out := make([]byte, arpFrameLen)
		WriteARPReply(out, a, MAC{2})
		if _, err := ParseARP(out[EthHeaderLen:]); err != nil {
			t.Fatalf("our own reply does not parse: %v", err)
		}
	})
}

func FuzzParseNS(f *testing.F) {
	f.Add(nsFrame(MAC{2, 0, 0, 0, 0, 1}, netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2"))[EthHeaderLen:])
	f.Add(nsFrame(MAC{2}, netip.IPv6Unspecified(), netip.MustParseAddr("fe80::1"))[EthHeaderLen:])
	f.Fuzz(func(t *testing.T, b []byte) {
		ns, err := ParseNS(MAC{2, 1}, b)
		if err != nil {
			return
		}
		out := make([]byte, naFrameLen)
		WriteNA(out, ns, MAC{2, 2})
		ip := out[EthHeaderLen:]
		if icmpv6Checksum([16]byte(ip[8:24]), [16]byte(ip[24:40]), ip[ipv6HeaderLen:]) != 0 {
			t.Fatal("NA checksum does not verify")
		}
	})
}

// FuzzEthernetFrame feeds arbitrary frames to the outbound classifier pieces
// that look inside them.
func FuzzEthernetFrame(f *testing.F) {
	f.Add(arpRequest(MAC{2, 0, 0, 0, 0, 1}, netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")))
	f.Add(nsFrame(MAC{2, 0, 0, 0, 0, 1}, netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2")))
	f.Add(make([]byte, EthHeaderLen))
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) < EthHeaderLen {
			return
		}
		_ = sourceIP(frame)
		_ = dstMAC(frame)
	})
}
