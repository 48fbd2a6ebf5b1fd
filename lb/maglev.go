package lb

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
)

// DefaultMaglevSize is the lookup table size M. The Maglev paper recommends
// a prime well above 100 times the backend count; 65537 keeps every backend
// of MaxBackendsPerService within a few percent of an even share while the
// table (uint16 entries) stays at 128 KiB per service.
const DefaultMaglevSize = 65537

// Maglev is an immutable consistent-hashing lookup table (Eisenbud et al.,
// "Maglev: A Fast and Reliable Software Network Load Balancer", NSDI 2016).
//
// Each backend prefers the table slots in the order of its own permutation,
// (offset + j*skip) mod M, where offset and skip come from two independent
// hashes of the backend's name. Backends take turns claiming their next
// preferred free slot until the table is full, so each owns M/N slots (give
// or take one) and removing a backend mostly moves only its own slots.
//
// Names are sorted before the table is filled and the hashes are unkeyed, so
// every node builds the identical table from the same backend set, whatever
// order gossip delivered it in.
type Maglev struct {
	table []uint16
	names []string
}

// NewMaglev builds a table of size m (a prime, at least len(names)) for the
// named backends. Names must be distinct; their order does not matter. The
// indices Lookup returns refer to Names().
func NewMaglev(names []string, m int) (*Maglev, error) {
	if err := checkMaglevSize(m); err != nil {
		return nil, err
	}
	if len(names) > MaxBackendsPerService {
		return nil, fmt.Errorf("%d backends: at most %d per service", len(names), MaxBackendsPerService)
	}
	if len(names) > m {
		return nil, fmt.Errorf("%d backends do not fit a maglev table of %d slots: use a larger prime", len(names), m)
	}
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	for i := 1; i < len(sorted); i++ {
		if sorted[i] == sorted[i-1] {
			return nil, fmt.Errorf("backend %q is listed twice: backend names must be distinct", sorted[i])
		}
	}
	mg := &Maglev{names: sorted}
	if len(sorted) == 0 {
		return mg, nil
	}
	mg.table = populate(sorted, uint64(m))
	return mg, nil
}

// populate fills a table of m slots, as in the Maglev paper's Pseudocode 1.
func populate(names []string, m uint64) []uint16 {
	n := len(names)
	offset := make([]uint64, n)
	skip := make([]uint64, n)
	next := make([]uint64, n)
	for i, name := range names {
		sum := sha256.Sum256([]byte(name))
		offset[i] = binary.BigEndian.Uint64(sum[0:8]) % m
		skip[i] = binary.BigEndian.Uint64(sum[8:16])%(m-1) + 1
	}
	const empty = 0xffff
	table := make([]uint16, m)
	for i := range table {
		table[i] = empty
	}
	for filled := uint64(0); ; {
		for i := range n {
			c := (offset[i] + next[i]*skip[i]) % m
			for table[c] != empty {
				next[i]++
				c = (offset[i] + next[i]*skip[i]) % m
			}
			table[c] = uint16(i)
			next[i]++
			if filled++; filled == m {
				return table
			}
		}
	}
}

// Len is the number of backends in the table.
func (mg *Maglev) Len() int { return len(mg.names) }

// Names returns the backend names in index order (sorted). The caller must
// not modify the slice.
func (mg *Maglev) Names() []string { return mg.names }

// Lookup returns the index of the backend owning hash, or -1 if the table
// has no backends. It does not allocate.
func (mg *Maglev) Lookup(hash uint64) int {
	if len(mg.table) == 0 {
		return -1
	}
	return int(mg.table[hash%uint64(len(mg.table))])
}

// MaxMaglevSize is the largest table size: entries are uint16 and one value
// marks empty slots while filling.
const MaxMaglevSize = 65537

func checkMaglevSize(m int) error {
	if m > MaxMaglevSize || !isPrime(m) {
		return fmt.Errorf("maglev table size %d must be a prime no larger than %d (for example 65537, 251 or 13)", m, MaxMaglevSize)
	}
	return nil
}

func isPrime(n int) bool {
	if n < 2 {
		return false
	}
	for d := 2; d*d <= n; d++ {
		if n%d == 0 {
			return false
		}
	}
	return true
}
