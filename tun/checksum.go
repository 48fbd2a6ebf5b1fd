package tun

// Internet checksum (RFC 1071) helpers for segmentation and coalescing.
// The sum is kept unfolded in 64 bits and folded once at the end: adding
// 64-bit words with carry (bits.Add64 is one ADC instruction) sums eight
// bytes per step, so checksumming a segment costs little next to copying
// it.

import (
	"encoding/binary"
	"math/bits"
)

// csumAdd adds b, as big-endian 16-bit words (a trailing odd byte padded
// with zero), to the unfolded ones'-complement sum.
func csumAdd(sum uint64, b []byte) uint64 {
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
	sum = csumAdd64(sum, c)
	if len(b) >= 4 {
		sum = csumAdd64(sum, uint64(binary.BigEndian.Uint32(b)))
		b = b[4:]
	}
	if len(b) >= 2 {
		sum = csumAdd64(sum, uint64(binary.BigEndian.Uint16(b)))
		b = b[2:]
	}
	if len(b) == 1 {
		sum = csumAdd64(sum, uint64(b[0])<<8)
	}
	return sum
}

// csumAdd64 adds v to the unfolded sum with an end-around carry
// (2^64 = 1 in ones'-complement arithmetic modulo 2^64-1).
func csumAdd64(sum, v uint64) uint64 {
	s, c := bits.Add64(sum, v, 0)
	return s + c
}

// csumAdd16 adds one 16-bit value to the unfolded sum.
func csumAdd16(sum uint64, v uint16) uint64 { return csumAdd64(sum, uint64(v)) }

// csumFold folds an unfolded sum to 16 bits (not complemented).
func csumFold(sum uint64) uint16 {
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}

// pseudoSum is the unfolded sum of the TCP/UDP pseudo-header: both
// addresses (4 or 16 bytes each), the protocol and the L4 length.
func pseudoSum(src, dst []byte, proto uint8, l4Len int) uint64 {
	sum := csumAdd(0, src)
	sum = csumAdd(sum, dst)
	sum = csumAdd16(sum, uint16(proto))
	return csumAdd16(sum, uint16(l4Len))
}

// ipv4HeaderChecksum recomputes the checksum of the IPv4 header h in
// place.
func ipv4HeaderChecksum(h []byte) {
	h[10], h[11] = 0, 0
	binary.BigEndian.PutUint16(h[10:12], ^csumFold(csumAdd(0, h)))
}
