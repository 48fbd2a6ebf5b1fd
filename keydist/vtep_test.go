package keydist

import (
	"crypto/sha256"
	"net/netip"
	"testing"
)

func TestVTEP(t *testing.T) {
	ula := netip.MustParsePrefix("fd00::/8")
	seen := map[netip.Addr]bool{}
	for range 200 {
		_, pub := newNode(t)
		a := VTEP(pub)
		if !a.Is6() || !ula.Contains(a) || a.Zone() != "" {
			t.Fatalf("VTEP %s is not in fd00::/8", a)
		}
		if VTEP(pub) != a {
			t.Fatal("VTEP is not deterministic")
		}
		if seen[a] {
			t.Fatalf("VTEP collision at %s", a)
		}
		seen[a] = true
		// The documented derivation.
		raw := pub.Raw32()
		h := sha256.Sum256(append([]byte("meshnet vtep v1\x00"), raw[:]...))
		h[0] = 0xfd
		if want := netip.AddrFrom16([16]byte(h[:16])); a != want {
			t.Fatalf("VTEP = %s, documented derivation gives %s", a, want)
		}
	}
}
