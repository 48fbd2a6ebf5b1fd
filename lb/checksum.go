package lb

import "encoding/binary"

// Internet checksum helpers (RFC 1071) and incremental updates (RFC 1624).
//
// NAT changes a few 16-bit words of a packet; rather than summing the whole
// packet again it adjusts the stored checksum with eqn. 3 of RFC 1624,
//
//	HC' = ~(~HC + ~m + m')
//
// for each changed word m -> m', which stays correct for every input
// including the 0x0000/0xffff corner cases eqn. 2 gets wrong.

// checksumReplace returns csum adjusted for the bytes old being replaced by
// new. old and new have the same even length and start on a 16-bit boundary
// of the checksummed data.
func checksumReplace(csum uint16, old, new []byte) uint16 {
	s := uint32(^csum)
	for i := 0; i+1 < len(old); i += 2 {
		s += uint32(^binary.BigEndian.Uint16(old[i:]))
		s += uint32(binary.BigEndian.Uint16(new[i:]))
	}
	return ^fold(s)
}

// checksumReplace16 adjusts csum for one 16-bit word changing from old to new.
func checksumReplace16(csum, old, new uint16) uint16 {
	return ^fold(uint32(^csum) + uint32(^old) + uint32(new))
}

// sum16 adds b to the one's-complement running sum s; an odd final byte is
// padded with zero, as the checksum definitions ask.
func sum16(s uint32, b []byte) uint32 {
	for len(b) >= 2 {
		s += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
		if s >= 1<<31 {
			s = uint32(fold(s))
		}
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

// fold reduces a 32-bit running sum to 16 bits with end-around carry.
func fold(s uint32) uint16 {
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}
