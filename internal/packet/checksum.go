package packet

// The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//
// A running sum is kept unfolded in 64 bits and folded to 16 only at the
// end. Sum adds eight bytes per step with carry (bits.Add64 is one ADC
// instruction) and wraps the carries around, so a running sum stays a
// correct ones'-complement sum modulo 2^64-1 for any amount of data; as
// 0xffff divides 2^64-1, folding it gives the 16-bit sum. Sums are
// therefore combined with AddSum, never with +, which could lose a carry.

import (
	"encoding/binary"
	"math/bits"
)

// Sum adds b, as big-endian 16-bit words (an odd final byte padded with
// zero), to the unfolded ones'-complement sum. b should start on a 16-bit
// boundary of the checksummed data.
func Sum(sum uint64, b []byte) uint64 {
	var c uint64
	for len(b) >= 32 {
		sum, c = bits.Add64(sum, binary.BigEndian.Uint64(b[0:8]), c)
		sum, c = bits.Add64(sum, binary.BigEndian.Uint64(b[8:16]), c)
		sum, c = bits.Add64(sum, binary.BigEndian.Uint64(b[16:24]), c)
		sum, c = bits.Add64(sum, binary.BigEndian.Uint64(b[24:32]), c)
		b = b[32:]
	}
	for len(b) >= 8 {
		sum, c = bits.Add64(sum, binary.BigEndian.Uint64(b), c)
		b = b[8:]
	}
	sum = AddSum(sum, c)
	if len(b) >= 4 {
		sum = AddSum(sum, uint64(binary.BigEndian.Uint32(b)))
		b = b[4:]
	}
	if len(b) >= 2 {
		sum = AddSum(sum, uint64(binary.BigEndian.Uint16(b)))
		b = b[2:]
	}
	if len(b) == 1 {
		sum = AddSum(sum, uint64(b[0])<<8)
	}
	return sum
}

// AddSum adds v, an unfolded sum or a plain value (a 16-bit field, a
// length), to the unfolded sum, wrapping the carry around (2^64 is 1 in
// ones'-complement arithmetic modulo 2^64-1).
func AddSum(sum, v uint64) uint64 {
	s, c := bits.Add64(sum, v, 0)
	return s + c
}

// Fold folds an unfolded sum to 16 bits, not complemented.
func Fold(sum uint64) uint16 {
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}

// Checksum returns the Internet checksum of b, starting from the unfolded
// sum initial (a pseudo-header's, say, or 0): the complement of the folded
// sum. Computed over data that includes a correct checksum, it is 0.
func Checksum(b []byte, initial uint64) uint16 { return ^Fold(Sum(initial, b)) }

// PseudoHeaderSum is the unfolded sum of the pseudo-header that TCP, UDP
// and ICMPv6 checksums cover: both addresses (4 bytes each for IPv4, 16
// for IPv6), the protocol and the upper-layer length.
func PseudoHeaderSum(src, dst []byte, proto uint8, length int) uint64 {
	sum := Sum(0, src)
	sum = Sum(sum, dst)
	return AddSum(sum, uint64(proto)+uint64(uint32(length)))
}

// PutIPv4HeaderChecksum computes the checksum of the IPv4 header h (all
// of it, options included) and stores it in h[10:12].
func PutIPv4HeaderChecksum(h []byte) {
	h[10], h[11] = 0, 0
	binary.BigEndian.PutUint16(h[10:12], Checksum(h, 0))
}

// UpdateChecksum returns the checksum csum adjusted for the bytes old
// being replaced by new, without summing the rest of the data again (NAT
// changes a few words of a packet). old and new have the same even length
// and start on a 16-bit boundary of the checksummed data. It applies
// eqn. 3 of RFC 1624 to each changed word m → m',
//
//	HC' = ~(~HC + ~m + m')
//
// which is right for every input, including the 0x0000/0xffff cases that
// eqn. 2 gets wrong. The result may be 0xffff where summing afresh gives
// 0x0000 or the reverse: ones'-complement arithmetic has two zeros, and a
// receiver accepts either.
func UpdateChecksum(csum uint16, old, new []byte) uint16 {
	s := uint64(^csum)
	for i := 0; i+1 < len(old); i += 2 {
		s += uint64(^binary.BigEndian.Uint16(old[i:])) + uint64(binary.BigEndian.Uint16(new[i:]))
	}
	return ^Fold(s)
}

// UpdateChecksum16 is UpdateChecksum for one 16-bit word changing from old
// to new.
func UpdateChecksum16(csum, old, new uint16) uint16 {
	return ^Fold(uint64(^csum) + uint64(^old) + uint64(new))
}
