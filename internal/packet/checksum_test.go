package packet

import (
	"encoding/binary"
	"math/rand/v2"
	"strconv"
	"testing"
)

// naiveSum is RFC 1071 done the obvious way, to check Sum against: the
// 16-bit words of b added one at a time to initial's four 16-bit digits
// (2^16 is 1 modulo 0xffff), folded at the end.
func naiveSum(initial uint64, b []byte) uint16 {
	s := initial>>48 + initial>>32&0xffff + initial>>16&0xffff + initial&0xffff
	for i := 0; i+1 < len(b); i += 2 {
		s += uint64(b[i])<<8 | uint64(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint64(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}

// csumEqual treats the two ones'-complement zeros as equal.
func csumEqual(a, b uint16) bool {
	return a == b || (a == 0 || a == 0xffff) && (b == 0 || b == 0xffff)
}

// fill gives b one of a few patterns: random bytes, all ones (every word
// 0xffff, where end-around carries pile up), all zeros, or random bytes
// with runs of ones.
func fill(r *rand.Rand, b []byte) {
	pattern := r.IntN(4)
	for i := range b {
		switch pattern {
		case 0:
			b[i] = byte(r.Uint32())
		case 1:
			b[i] = 0xff
		case 2:
			b[i] = 0
		default:
			b[i] = byte(r.Uint32())
			if r.IntN(3) > 0 {
				b[i] = 0xff
			}
		}
	}
}

// TestSumMatchesNaive compares Sum with the naive sum over random data of
// every length up to a few thousand bytes and some up to 64 KiB, at every
// alignment within a word, from random running sums (small ones and ones
// near 2^64, whose carries must wrap around).
func TestSumMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 65535+8)
	lengths := make([]int, 0, 4200)
	for n := range 4096 {
		lengths = append(lengths, n)
	}
	for range 64 {
		lengths = append(lengths, r.IntN(65536))
	}
	lengths = append(lengths, 65535)
	for _, n := range lengths {
		off := r.IntN(8)
		b := buf[off : off+n]
		fill(r, b)
		var initial uint64
		switch r.IntN(4) {
		case 1:
			initial = uint64(r.Uint32() & 0xffff)
		case 2:
			initial = r.Uint64()
		case 3:
			initial = ^uint64(0) - uint64(r.IntN(1<<20))
		}
		if got, want := Fold(Sum(initial, b)), naiveSum(initial, b); got != want {
			t.Fatalf("%d bytes at offset %d from %#x: Sum folds to %#04x, want %#04x", n, off, initial, got, want)
		}
	}
}

// TestSumSplits: summing data in pieces of even length, combined with
// AddSum, gives the sum of the whole.
func TestSumSplits(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	b := make([]byte, 3000)
	for range 2000 {
		fill(r, b)
		cut := 2 * r.IntN(len(b)/2)
		whole := Fold(Sum(0, b))
		parts := Fold(AddSum(Sum(0, b[:cut]), Sum(0, b[cut:])))
		chained := Fold(Sum(Sum(0, b[:cut]), b[cut:]))
		if parts != whole || chained != whole {
			t.Fatalf("cut at %d: parts %#04x, chained %#04x, whole %#04x", cut, parts, chained, whole)
		}
	}
}

// TestChecksumVerifies: data carrying its own checksum sums to zero.
func TestChecksumVerifies(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 1000 {
		b := make([]byte, 2*(2+r.IntN(700)))
		fill(r, b)
		b[2], b[3] = 0, 0
		binary.BigEndian.PutUint16(b[2:4], Checksum(b, 0))
		if c := Checksum(b, 0); c != 0 {
			t.Fatalf("checksum over data and its checksum is %#04x, want 0", c)
		}
	}
}

func TestPseudoHeaderSum(t *testing.T) {
	src4, dst4 := []byte{192, 0, 2, 1}, []byte{198, 51, 100, 7}
	src6 := []byte{0xfd, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}
	dst6 := []byte{0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}
	for _, tc := range []struct {
		name     string
		src, dst []byte
		proto    uint8
		length   int
		pseudo   []byte
	}{
		// RFC 768: source, destination, zero, protocol, UDP length.
		{"ipv4", src4, dst4, ProtoUDP, 1480, append(append(append([]byte{}, src4...), dst4...), 0, ProtoUDP, 1480>>8, 1480&0xff)},
		// RFC 8200 8.1: source, destination, 32-bit length, 3 zero bytes, next header.
		{"ipv6", src6, dst6, ProtoTCP, 70000, append(append(append([]byte{}, src6...), dst6...), 0, 1, 70000>>8&0xff, 70000&0xff, 0, 0, 0, ProtoTCP)},
	} {
		if got, want := Fold(PseudoHeaderSum(tc.src, tc.dst, tc.proto, tc.length)), naiveSum(0, tc.pseudo); got != want {
			t.Errorf("%s: pseudo-header sum %#04x, want %#04x", tc.name, got, want)
		}
	}
}

func TestPutIPv4HeaderChecksum(t *testing.T) {
	// A UDP packet's header, 192.168.0.1 to 192.168.0.199, whose checksum
	// is known (and wrong here until computed).
	h := []byte{0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xaa, 0xbb, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7}
	PutIPv4HeaderChecksum(h)
	if got := binary.BigEndian.Uint16(h[10:12]); got != 0xb861 {
		t.Fatalf("header checksum %#04x, want 0xb861", got)
	}
}

// TestUpdateChecksumMatchesRecompute checks the incremental update against
// a full recomputation over random data, all-ones words included.
func TestUpdateChecksumMatchesRecompute(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for i := range 20000 {
		data := make([]byte, 2*(2+r.IntN(30)))
		fill(r, data)
		cs := Checksum(data, 0)
		off := 2 * r.IntN(len(data)/2)
		n := 2 * (1 + r.IntN((len(data)-off)/2))
		repl := make([]byte, n)
		fill(r, repl)
		if n == 2 && r.IntN(2) == 0 {
			cs = UpdateChecksum16(cs, binary.BigEndian.Uint16(data[off:]), binary.BigEndian.Uint16(repl))
		} else {
			cs = UpdateChecksum(cs, data[off:off+n], repl)
		}
		copy(data[off:], repl)
		if want := Checksum(data, 0); !csumEqual(cs, want) {
			t.Fatalf("case %d: incremental %#04x, recomputed %#04x", i, cs, want)
		}
	}
}

var sink uint64

// BenchmarkChecksum sums buffers of header, frame and super-frame sizes;
// "naive" is the word-at-a-time reference, for scale.
func BenchmarkChecksum(b *testing.B) {
	for _, n := range []int{20, 40, 64, 1400, 9000, 65535} {
		buf := make([]byte, n)
		fill(rand.New(rand.NewPCG(9, 10)), buf)
		b.Run("fast/"+strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				sink += Sum(0, buf)
			}
		})
		b.Run("naive/"+strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				sink += uint64(naiveSum(0, buf))
			}
		})
	}
}

// BenchmarkUpdateChecksum adjusts a checksum for an IPv6 address and a
// port changing, as DNAT does.
func BenchmarkUpdateChecksum(b *testing.B) {
	old, new := make([]byte, 16), make([]byte, 16)
	fill(rand.New(rand.NewPCG(11, 12)), old)
	fill(rand.New(rand.NewPCG(13, 14)), new)
	cs := uint16(0x1234)
	b.ReportAllocs()
	for b.Loop() {
		cs = UpdateChecksum16(UpdateChecksum(cs, old, new), 80, 8080)
	}
	sink += uint64(cs)
}
