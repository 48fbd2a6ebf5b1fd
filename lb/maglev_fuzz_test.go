package lb

import (
	"bytes"
	"slices"
	"testing"
)

// fuzzMaglevSizes are the table sizes the fuzz target picks from.
var fuzzMaglevSizes = [...]int{2, 3, 13, 251, 4099, DefaultMaglevSize}

// FuzzMaglevBuild builds tables from arbitrary newline-separated backend
// names and checks the invariants every node relies on: each slot names a
// backend, shares are even to within one slot, and the input order does not
// change the table.
func FuzzMaglevBuild(f *testing.F) {
	f.Add(uint8(2), []byte("10.0.0.1:80\n10.0.0.2:80\n10.0.0.3:80"))
	f.Add(uint8(0), []byte("a\nb\nc"))
	f.Add(uint8(5), []byte(""))
	f.Add(uint8(1), []byte("x\nx"))
	f.Fuzz(func(t *testing.T, sizeSel uint8, data []byte) {
		m := fuzzMaglevSizes[int(sizeSel)%len(fuzzMaglevSizes)]
		var names []string
		if len(data) > 0 {
			for _, line := range bytes.Split(data, []byte("\n")) {
				names = append(names, string(line))
			}
		}
		mg, err := NewMaglev(names, m)
		if err != nil {
			return // duplicates or too many for m: rejected, fine
		}
		if mg.Len() != len(names) {
			t.Fatalf("Len = %d, want %d", mg.Len(), len(names))
		}
		if len(names) == 0 {
			if mg.Lookup(1) != -1 {
				t.Fatal("empty table returned a backend")
			}
			return
		}
		owned := make([]int, len(names))
		for _, b := range mg.table {
			if int(b) >= len(names) {
				t.Fatalf("slot names backend %d of %d", b, len(names))
			}
			owned[b]++
		}
		lo, hi := m/len(names), (m+len(names)-1)/len(names)
		for i, c := range owned {
			if c < lo || c > hi {
				t.Fatalf("backend %d owns %d slots, want %d-%d", i, c, lo, hi)
			}
		}
		reversed := slices.Clone(names)
		slices.Reverse(reversed)
		again, err := NewMaglev(reversed, m)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(again.table, mg.table) {
			t.Fatal("reversed input built a different table")
		}
	})
}
