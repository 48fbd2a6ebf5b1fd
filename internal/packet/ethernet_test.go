package packet

import (
	"testing"

	"meshnet.dev/meshnet/internal/testenv"
)

func TestMACClasses(t *testing.T) {
	for _, tc := range []struct {
		mac                        MAC
		multicast, broadcast, zero bool
	}{
		{MAC{}, false, false, true},
		{MAC{0x02, 0, 0, 0, 0, 1}, false, false, false},
		{MAC{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}, true, false, false}, // IPv4 multicast (mDNS)
		{MAC{0x33, 0x33, 0, 0, 0, 1}, true, false, false},             // IPv6 all-nodes
		{BroadcastMAC(), true, true, false},
		{MAC{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff}, false, false, false},
	} {
		if IsMulticast(tc.mac) != tc.multicast || IsBroadcast(tc.mac) != tc.broadcast || IsZero(tc.mac) != tc.zero {
			t.Errorf("%x: multicast %t broadcast %t zero %t, want %t %t %t", tc.mac,
				IsMulticast(tc.mac), IsBroadcast(tc.mac), IsZero(tc.mac), tc.multicast, tc.broadcast, tc.zero)
		}
	}
}

func TestEthHeaderRoundTrip(t *testing.T) {
	dst, src := MAC{2, 0, 0, 0, 0, 2}, MAC{2, 0, 0, 0, 0, 1}
	b := make([]byte, EthHeaderLen)
	PutEthHeader(b, dst, src, EtherTypeIPv6)
	want := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd}
	if string(b) != string(want) {
		t.Fatalf("header % x, want % x", b, want)
	}
	if DstMAC(b) != dst || SrcMAC(b) != src || EtherType(b) != EtherTypeIPv6 {
		t.Fatalf("read back %x %x %#04x", DstMAC(b), SrcMAC(b), EtherType(b))
	}
}

func TestPacketBasicsDoNotAllocate(t *testing.T) {
	testenv.SkipAllocsUnderRace(t)
	frame := make([]byte, 1514)
	var cs uint16
	allocs := testing.AllocsPerRun(100, func() {
		PutEthHeader(frame, BroadcastMAC(), MAC{2, 0, 0, 0, 0, 1}, EtherTypeIPv4)
		if !IsMulticast(DstMAC(frame)) || IsZero(SrcMAC(frame)) || EtherType(frame) != EtherTypeIPv4 {
			t.Fatal("header read back wrong")
		}
		PutIPv4HeaderChecksum(frame[EthHeaderLen : EthHeaderLen+IPv4MinHeaderLen])
		cs = Checksum(frame[EthHeaderLen:], PseudoHeaderSum(frame[26:30], frame[30:34], ProtoUDP, 1500))
		cs = UpdateChecksum16(UpdateChecksum(cs, frame[26:30], frame[30:34]), 1, 2)
	})
	if allocs != 0 {
		t.Fatalf("header and checksum helpers allocated %.1f times", allocs)
	}
	_ = cs
}
