package routing

import (
	"math/big"
	"net/netip"
)

// IPAM: every node claims an address block of a network's subnet by gossip
// and takes the block's first host address for its own interface; the rest
// of the block is its to hand out to endpoints behind it. Concurrent claims
// of one block are settled by Claim order, which every node sees
// identically, and the loser picks again.

// Claim is one node's claim of a block, ordered by Lamport time and then
// node name.
type Claim struct {
	Block netip.Prefix
	Owner string
	LTime uint64
}

// Before reports whether c wins over o.
func (c Claim) Before(o Claim) bool {
	if c.LTime != o.LTime {
		return c.LTime < o.LTime
	}
	return c.Owner < o.Owner
}

// BlockBits is the prefix length of the blocks subnet is cut into: at least
// 64 blocks where the subnet allows (a /24 gives /30s), never smaller than
// four addresses.
func BlockBits(subnet netip.Prefix) int {
	smallest := subnet.Addr().BitLen() - 2
	return min(smallest, subnet.Bits()+8)
}

// ResolveClaims returns the winning claim of every claimed block.
func ResolveClaims(claims []Claim) map[netip.Prefix]Claim {
	won := make(map[netip.Prefix]Claim, len(claims))
	for _, c := range claims {
		if w, ok := won[c.Block]; !ok || c.Before(w) {
			won[c.Block] = c
		}
	}
	return won
}

// FreeBlock returns a block of subnet that nobody claims and that holds none
// of the used addresses (static addresses, endpoints). It starts looking at
// block number start (mod the block count) so that nodes claiming at the
// same time rarely pick the same block.
func FreeBlock(subnet netip.Prefix, claimed map[netip.Prefix]Claim, used []netip.Addr, start uint64) (netip.Prefix, bool) {
	bits := BlockBits(subnet)
	shift := uint(bits - subnet.Bits())
	count := uint64(1) << min(shift, 32) // probing more than 2^32 blocks is pointless
	taken := map[netip.Prefix]bool{}
	for b := range claimed {
		taken[b] = true
	}
	for _, a := range used {
		if subnet.Contains(a) {
			b, _ := a.Prefix(bits)
			taken[b] = true
		}
	}
	for i := range count {
		b := nthBlock(subnet, bits, (start+i)%count)
		if !taken[b] {
			return b, true
		}
	}
	return netip.Prefix{}, false
}

// nthBlock is block n of subnet cut into /bits.
func nthBlock(subnet netip.Prefix, bits int, n uint64) netip.Prefix {
	base := new(big.Int).SetBytes(subnet.Masked().Addr().AsSlice())
	off := new(big.Int).Lsh(new(big.Int).SetUint64(n), uint(subnet.Addr().BitLen()-bits))
	sum := new(big.Int).Add(base, off).FillBytes(make([]byte, subnet.Addr().BitLen()/8))
	a, _ := netip.AddrFromSlice(sum)
	return netip.PrefixFrom(a, bits)
}

// BlockAddress is the address a node takes for itself from its block: the
// first host address (never the subnet's network address).
func BlockAddress(b netip.Prefix) netip.Addr { return b.Masked().Addr().Next() }

// LastAddress is the highest address of p (for IPv4 the broadcast
// address), which is never handed out.
func LastAddress(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
