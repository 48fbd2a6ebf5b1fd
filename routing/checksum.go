package routing

import "encoding/binary"

// checksum folds the one's-complement sum of b into initial (RFC 1071).
func checksum(b []byte, initial uint32) uint32 {
	sum := initial
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

// finishChecksum folds carries and complements.
func finishChecksum(sum uint32) uint16 {
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// icmpv6Checksum computes the ICMPv6 checksum of msg sent from src to dst,
// covering the IPv6 pseudo-header (RFC 8200, section 8.1).
func icmpv6Checksum(src, dst [16]byte, msg []byte) uint16 {
	sum := checksum(src[:], 0)
	sum = checksum(dst[:], sum)
	sum += uint32(len(msg))
	sum += protoICMPv6
	return finishChecksum(checksum(msg, sum))
}
