package keydist

import (
	"crypto/sha256"
	"net/netip"
)

// vtepLabel separates the VTEP hash from every other use of a public key.
const vtepLabel = "meshnet vtep v1\x00"

// VTEP returns the node's overlay VTEP address: a unique-local IPv6 /128 in
// fd00::/8 derived from its WireGuard public key, so it needs no allocation:
//
//	h    = SHA-256("meshnet vtep v1\x00" || pub)   (pub: the 32 raw key bytes)
//	addr = h[0:16] with addr[0] = 0xfd
//
// The 120 hashed bits make a collision between two nodes negligible. Stock
// WireGuard peers compute the same address to interoperate.
func VTEP(pub NodePublic) netip.Addr {
	h := sha256.New()
	h.Write([]byte(vtepLabel))
	h.Write(pub.k[:])
	var a [16]byte
	copy(a[:], h.Sum(nil))
	a[0] = 0xfd
	return netip.AddrFrom16(a)
}
