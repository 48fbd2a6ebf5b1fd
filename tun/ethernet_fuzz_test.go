package tun

import (
	"encoding/binary"
	"testing"

	"meshnet.dev/meshnet/internal/packet"
)

// FuzzClassifyFrame checks the Write-side filter on arbitrary frames: it never
// panics, and what it accepts really is an IP packet of the EtherType's
// version, addressed to us or to a group.
func FuzzClassifyFrame(f *testing.F) {
	f.Fuzz(func(t *testing.T, frame []byte) {
		r := classifyFrame(frame, testOwnMAC)
		if r >= numDropReasons {
			t.Fatalf("reason %d out of range", r)
		}
		if r != DropNone {
			return
		}
		dst := packet.MAC(frame[0:6])
		if dst != testOwnMAC && dst[0]&1 == 0 {
			t.Fatalf("accepted unicast to %s", formatMAC(dst))
		}
		pkt := frame[packet.EthHeaderLen:]
		switch binary.BigEndian.Uint16(frame[12:14]) {
		case packet.EtherTypeIPv4:
			if len(pkt) < packet.IPv4MinHeaderLen || pkt[0]>>4 != 4 {
				t.Fatalf("accepted a bad IPv4 packet %x", pkt)
			}
		case packet.EtherTypeIPv6:
			if len(pkt) < packet.IPv6HeaderLen || pkt[0]>>4 != 6 {
				t.Fatalf("accepted a bad IPv6 packet %x", pkt)
			}
		default:
			t.Fatalf("accepted EtherType %#04x", binary.BigEndian.Uint16(frame[12:14]))
		}
	})
}

// FuzzFrame checks the Read-side framer on arbitrary packets: it never
// panics, and whatever it frames, the Write-side filter of the destination
// accepts (a frame with the zero MAC, unknown unicast, is the forwarder's to
// drop).
func FuzzFrame(f *testing.F) {
	fr := testFramer()
	f.Fuzz(func(t *testing.T, pkt []byte) {
		b := append(make([]byte, packet.EthHeaderLen), pkt...)
		if fr.frame(b) != DropNone {
			return
		}
		if packet.MAC(b[6:12]) != testOwnMAC {
			t.Fatalf("source MAC %s, want ours", formatMAC(packet.MAC(b[6:12])))
		}
		dst := packet.MAC(b[0:6])
		if dst == (packet.MAC{}) {
			return
		}
		if r := classifyFrame(b, dst); r != DropNone {
			t.Fatalf("framed packet %x is refused by its destination: %v", b, r)
		}
	})
}
