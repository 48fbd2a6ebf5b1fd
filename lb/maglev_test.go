package lb

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"meshnet.dev/meshnet/internal/testenv"
)

func backendNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("10.0.%d.%d:8080", i/200, i%200+1)
	}
	return names
}

// randomFlows returns hashes of n random TCP flows towards one VIP, from a
// fixed seed so failures reproduce.
func randomFlows(n int) []uint64 {
	r := rand.New(rand.NewPCG(1, 2))
	vip := netip.AddrPortFrom(netip.MustParseAddr("10.0.255.1"), 80)
	hashes := make([]uint64, n)
	for i := range hashes {
		var a [4]byte
		v := r.Uint32()
		a[0], a[1], a[2], a[3] = 10, byte(v>>16), byte(v>>8), byte(v)
		src := netip.AddrPortFrom(netip.AddrFrom4(a), uint16(r.UintN(64512)+1024))
		hashes[i] = FlowHash(ProtoTCP, src, vip)
	}
	return hashes
}

func TestMaglevEvenLoad(t *testing.T) {
	flows := randomFlows(1_000_000)
	for _, n := range []int{3, 5, 10} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			mg, err := NewMaglev(backendNames(n), DefaultMaglevSize)
			if err != nil {
				t.Fatal(err)
			}
			load := make([]int, n)
			for _, h := range flows {
				load[mg.Lookup(h)]++
			}
			lo, hi := slices.Min(load), slices.Max(load)
			if ratio := float64(hi) / float64(lo); ratio > 1.02 {
				t.Errorf("load %v: max/min = %.4f, want within 2%%", load, ratio)
			}
		})
	}
}

func TestMaglevMinimalDisruption(t *testing.T) {
	flows := randomFlows(1_000_000)
	for _, n := range []int{3, 5, 10} {
		names := backendNames(n)
		for removed := range n {
			t.Run(fmt.Sprintf("%d-remove-%d", n, removed), func(t *testing.T) {
				before, err := NewMaglev(names, DefaultMaglevSize)
				if err != nil {
					t.Fatal(err)
				}
				rest := slices.Delete(slices.Clone(names), removed, removed+1)
				after, err := NewMaglev(rest, DefaultMaglevSize)
				if err != nil {
					t.Fatal(err)
				}
				var others, moved int
				for _, h := range flows {
					was := before.Names()[before.Lookup(h)]
					if was == names[removed] {
						continue // its flows must move somewhere
					}
					others++
					if after.Names()[after.Lookup(h)] != was {
						moved++
					}
				}
				if frac := float64(moved) / float64(others); frac >= 0.02 {
					t.Errorf("%.2f%% of the remaining backends' flows moved, want under 2%%", 100*frac)
				}
			})
		}
	}
}

func TestMaglevOrderIndependent(t *testing.T) {
	names := backendNames(10)
	want, err := NewMaglev(names, 251)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		shuffled := slices.Clone(names)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		got, err := NewMaglev(shuffled, 251)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.table, want.table) || !slices.Equal(got.Names(), want.Names()) {
			t.Fatalf("order %v built a different table", shuffled)
		}
	}
}

// TestMaglevKnownTable pins the table for a small set, so a change to the
// hashing (which would make mixed-version nodes disagree) fails loudly.
func TestMaglevKnownTable(t *testing.T) {
	mg, err := NewMaglev([]string{"a", "b", "c"}, 13)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(mg.table)
	const want = "[2 2 0 1 2 1 0 1 0 1 2 0 0]"
	if got != want {
		t.Errorf("table = %s, want %s", got, want)
	}
}

func TestMaglevEachBackendOwnsItsShare(t *testing.T) {
	for _, n := range []int{1, 2, 7, 100, MaxBackendsPerService} {
		mg, err := NewMaglev(backendNames(n), DefaultMaglevSize)
		if err != nil {
			t.Fatal(err)
		}
		owned := make([]int, n)
		for _, b := range mg.table {
			owned[b]++
		}
		lo, hi := DefaultMaglevSize/n, (DefaultMaglevSize+n-1)/n
		for i, c := range owned {
			if c < lo || c > hi {
				t.Fatalf("n=%d: backend %d owns %d slots, want %d-%d", n, i, c, lo, hi)
			}
		}
	}
}

func TestMaglevErrors(t *testing.T) {
	for _, tc := range []struct {
		names []string
		m     int
	}{
		{[]string{"a"}, 12},
		{[]string{"a"}, 65539},
		{[]string{"a", "a"}, 13},
		{backendNames(14), 13},
		{backendNames(MaxBackendsPerService + 1), DefaultMaglevSize},
	} {
		if _, err := NewMaglev(tc.names, tc.m); err == nil {
			t.Errorf("NewMaglev(%d names, %d) succeeded, want an error", len(tc.names), tc.m)
		}
	}
	mg, err := NewMaglev(nil, 13)
	if err != nil {
		t.Fatal(err)
	}
	if got := mg.Lookup(42); got != -1 {
		t.Errorf("empty table Lookup = %d, want -1", got)
	}
}

func TestMaglevLookupAllocs(t *testing.T) {
	testenv.SkipAllocsUnderRace(t)
	mg, err := NewMaglev(backendNames(5), DefaultMaglevSize)
	if err != nil {
		t.Fatal(err)
	}
	src := netip.MustParseAddrPort("10.0.0.1:40000")
	dst := netip.MustParseAddrPort("10.0.0.2:80")
	if n := testing.AllocsPerRun(1000, func() { _ = mg.Lookup(FlowHash(ProtoTCP, src, dst)) }); n != 0 {
		t.Errorf("FlowHash+Lookup allocates %v times, want 0", n)
	}
}

func BenchmarkMaglevLookup(b *testing.B) {
	mg, err := NewMaglev(backendNames(10), DefaultMaglevSize)
	if err != nil {
		b.Fatal(err)
	}
	src := netip.MustParseAddrPort("10.0.0.1:40000")
	dst := netip.MustParseAddrPort("10.0.0.2:80")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = mg.Lookup(FlowHash(ProtoTCP, src, dst) + uint64(i))
	}
}

func BenchmarkNewMaglev(b *testing.B) {
	names := backendNames(100)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewMaglev(names, DefaultMaglevSize); err != nil {
			b.Fatal(err)
		}
	}
}
