package routing

import (
	"net/netip"
	"testing"
)

func TestBlockBits(t *testing.T) {
	for s, want := range map[string]int{"10.0.0.0/24": 30, "10.0.0.0/16": 24, "10.0.0.0/8": 16, "10.0.0.0/29": 30, "fd00::/64": 72, "fd00::/120": 126} {
		if got := BlockBits(netip.MustParsePrefix(s)); got != want {
			t.Errorf("BlockBits(%s) = %d, want %d", s, got, want)
		}
	}
}

func TestFreeBlockAvoidsClaimsAndUsedAddresses(t *testing.T) {
	sub := netip.MustParsePrefix("10.0.0.0/24")
	claimed := map[netip.Prefix]Claim{}
	used := []netip.Addr{netip.MustParseAddr("10.0.0.5")} // block 10.0.0.4/30
	seen := map[netip.Prefix]bool{}
	for i := 0; ; i++ {
		b, ok := FreeBlock(sub, claimed, used, uint64(i*7))
		if !ok {
			break
		}
		if seen[b] || b.Contains(used[0]) || !sub.Contains(b.Addr()) || b.Bits() != 30 {
			t.Fatalf("bad block %v", b)
		}
		seen[b] = true
		claimed[b] = Claim{Block: b}
	}
	if len(seen) != 63 {
		t.Fatalf("found %d free blocks, want 63", len(seen))
	}
}

func TestResolveClaimsIsOrderIndependent(t *testing.T) {
	b := netip.MustParsePrefix("10.0.0.8/30")
	cs := []Claim{{b, "n2", 5}, {b, "n1", 5}, {b, "n0", 7}}
	for i := range cs {
		rot := append(append([]Claim{}, cs[i:]...), cs[:i]...)
		if w := ResolveClaims(rot)[b]; w.Owner != "n1" {
			t.Fatalf("winner %v", w)
		}
	}
}

func TestBlockAddressNeverNetworkAddress(t *testing.T) {
	if a := BlockAddress(netip.MustParsePrefix("10.0.0.0/30")); a.String() != "10.0.0.1" {
		t.Fatal(a)
	}
	if a := BlockAddress(netip.MustParsePrefix("fd00::/72")); a.String() != "fd00::1" {
		t.Fatal(a)
	}
}
