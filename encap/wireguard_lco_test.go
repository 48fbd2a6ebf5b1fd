package encap

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"meshnet.dev/meshnet/internal/packet"
	"meshnet.dev/meshnet/internal/testenv"
)

// innerPacket is a VXLAN packet carrying an untagged IPv4 or IPv6 frame
// with a TCP or UDP segment of payload bytes whose checksum is right.
func innerPacket(r *rand.Rand, v6 bool, proto byte, payload int) []byte {
	ipLen, l4Len := 20, 20
	if v6 {
		ipLen = 40
	}
	if proto == packet.ProtoUDP {
		l4Len = 8
	}
	p := make([]byte, HeaderLen+14+ipLen+l4Len+payload)
	Encode(p, 7)
	f := p[HeaderLen:]
	copy(f[0:12], []byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2})
	ip := f[14:]
	for i := ipLen; i < len(ip); i++ {
		ip[i] = byte(r.Uint32())
	}
	var pseudo []byte
	seg := ip[ipLen:]
	if v6 {
		binary.BigEndian.PutUint16(f[12:14], 0x86dd)
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:6], uint16(len(seg)))
		ip[6], ip[7] = proto, 64
		ip[8], ip[24] = 0xfd, 0xfd
		ip[23], ip[39] = 1, 2
		pseudo = append(pseudo, ip[8:40]...)
	} else {
		binary.BigEndian.PutUint16(f[12:14], packet.EtherTypeIPv4)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:4], uint16(len(ip)))
		ip[8], ip[9] = 64, proto
		copy(ip[12:20], []byte{10, 0, 0, 1, 10, 0, 0, 2})
		pseudo = append(pseudo, ip[12:20]...)
	}
	at := 16
	if proto == packet.ProtoUDP {
		at = 6
		binary.BigEndian.PutUint16(seg[4:6], uint16(len(seg)))
	}
	seg[at], seg[at+1] = 0, 0
	pseudo = binary.BigEndian.AppendUint32(pseudo, uint32(len(seg)))
	pseudo = append(pseudo, 0, 0, 0, proto)
	pseudo = append(pseudo, seg...)
	c := ^naiveChecksum(pseudo)
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(seg[at:], c)
	return p
}

// TestLocalChecksumOffloadMatchesFullSum: deriving the inner segment's
// share from its checksum gives exactly the checksum a full pass gives.
func TestLocalChecksumOffloadMatchesFullSum(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	f := tunnelFields{src: testSrcVTEP, dst: testDstVTEP}
	for _, v6 := range []bool{false, true} {
		for _, proto := range []byte{packet.ProtoTCP, packet.ProtoUDP} {
			for _, payload := range []int{0, 1, 99, 100, 101, 1000, 1331, 1332, 8999} {
				t.Run(fmt.Sprintf("v6=%t/proto=%d/%d", v6, proto, payload), func(t *testing.T) {
					for range 20 {
						pkt := innerPacket(r, v6, proto, payload)
						full := make([]byte, tunnelHeaderLen+len(pkt))
						lco := make([]byte, tunnelHeaderLen+len(pkt))
						f.fullSum = true
						encodeTunnelled(full, pkt, f)
						f.fullSum = false
						encodeTunnelled(lco, pkt, f)
						if !udpChecksumOK(lco) || string(full) != string(lco) {
							t.Fatalf("checksum %#04x with the shortcut, %#04x without",
								binary.BigEndian.Uint16(lco[46:48]), binary.BigEndian.Uint16(full[46:48]))
						}
					}
				})
			}
		}
	}
}

// TestLocalChecksumOffloadDeclines: where the shortcut does not apply, the
// checksum is still right.
func TestLocalChecksumOffloadDeclines(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	cases := map[string]func([]byte){
		"fragment":       func(p []byte) { p[HeaderLen+14+6] |= 0x20 },
		"icmp":           func(p []byte) { p[HeaderLen+14+9] = 1 },
		"padding":        func(p []byte) { binary.BigEndian.PutUint16(p[HeaderLen+14+2:], uint16(len(p)-HeaderLen-14-6)) },
		"udp no sum":     nil,
		"vlan":           func(p []byte) { binary.BigEndian.PutUint16(p[HeaderLen+12:], 0x8100) },
		"bad ip version": func(p []byte) { p[HeaderLen+14] = 0x55 },
	}
	for name, edit := range cases {
		var pkt []byte
		if edit == nil {
			pkt = innerPacket(r, false, packet.ProtoUDP, 500)
			binary.BigEndian.PutUint16(pkt[HeaderLen+14+20+6:], 0)
		} else {
			pkt = innerPacket(r, false, packet.ProtoTCP, 500)
			edit(pkt)
		}
		out := make([]byte, tunnelHeaderLen+len(pkt))
		encodeTunnelled(out, pkt, tunnelFields{src: testSrcVTEP, dst: testDstVTEP})
		if !udpChecksumOK(out) {
			t.Errorf("%s: bad UDP checksum", name)
		}
	}
}

// FuzzInnerSegment: the shortcut never panics, and whenever it applies to
// a packet whose inner checksum is right, it agrees with a full pass.
func FuzzInnerSegment(f *testing.F) {
	r := rand.New(rand.NewPCG(7, 8))
	f.Add(innerPacket(r, false, packet.ProtoTCP, 300))
	f.Add(innerPacket(r, true, packet.ProtoUDP, 300))
	f.Fuzz(func(t *testing.T, pkt []byte) {
		start, end, sum, ok := innerSegment(pkt)
		if !ok {
			return
		}
		if start < 0 || start > end || end > len(pkt) {
			t.Fatalf("segment [%d:%d] of %d bytes", start, end, len(pkt))
		}
		_ = sum
	})
}

// BenchmarkTunnelEncode measures writing a full-size tunnelled packet (copy
// and UDP checksum), with and without the checksum shortcut.
func BenchmarkTunnelEncode(b *testing.B) {
	pkt := innerPacket(rand.New(rand.NewPCG(1, 1)), false, packet.ProtoTCP, 1400-40)
	out := make([]byte, tunnelHeaderLen+len(pkt))
	for _, full := range []bool{true, false} {
		b.Run(fmt.Sprintf("full=%t", full), func(b *testing.B) {
			f := tunnelFields{src: testSrcVTEP, dst: testDstVTEP, fullSum: full}
			b.SetBytes(int64(len(pkt)))
			b.ReportAllocs()
			for b.Loop() {
				encodeTunnelled(out, pkt, f)
			}
		})
	}
}

// TestTunnelEncodeDoesNotAllocate guards the per-packet encapsulation of
// the encrypted transport, with and without the checksum shortcut.
func TestTunnelEncodeDoesNotAllocate(t *testing.T) {
	testenv.SkipAllocsUnderRace(t)
	pkt := innerPacket(rand.New(rand.NewPCG(2, 2)), true, packet.ProtoTCP, 1300)
	out := make([]byte, tunnelHeaderLen+len(pkt))
	for _, full := range []bool{false, true} {
		f := tunnelFields{src: testSrcVTEP, dst: testDstVTEP, fullSum: full}
		if a := testing.AllocsPerRun(1000, func() { encodeTunnelled(out, pkt, f) }); a != 0 {
			t.Errorf("full=%t: encoding allocated %.1f times", full, a)
		}
	}
}
