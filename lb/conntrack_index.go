package lb

// ctIndex is a fixed-size open-addressing hash index (linear probing with
// backward-shift deletion) from a 64-bit key hash to an entry number. It
// never allocates after construction and keeps at most half its slots full,
// so probe sequences stay short. Callers compare the full keys.
type ctIndex struct {
	slots []ctSlot
	mask  uint64
}

type ctSlot struct {
	hash uint64
	ref  int32 // the entry's index + 1; 0: empty, so a new index needs no filling
}

func (s ctSlot) empty() bool  { return s.ref == 0 }
func (s ctSlot) entry() int32 { return s.ref - 1 }

// newCTIndex makes an index for capacity entries; for none, one empty
// slot, in which every lookup misses.
func newCTIndex(capacity int) ctIndex {
	n := 1
	for n < 2*capacity {
		n <<= 1
	}
	slots := make([]ctSlot, n)
	return ctIndex{slots: slots, mask: uint64(n - 1)}
}

// insert adds entry under hash. The index must have room (callers keep the
// entry count at most half the slots).
func (x *ctIndex) insert(hash uint64, entry int32) {
	for i := hash & x.mask; ; i = (i + 1) & x.mask {
		if x.slots[i].empty() {
			x.slots[i] = ctSlot{hash: hash, ref: entry + 1}
			return
		}
	}
}

// remove deletes entry (stored under hash) and shifts later members of its
// probe run back, so lookups never need tombstones.
func (x *ctIndex) remove(hash uint64, entry int32) {
	i := hash & x.mask
	for x.slots[i].ref != entry+1 {
		if x.slots[i].empty() {
			return // not present
		}
		i = (i + 1) & x.mask
	}
	for j := i; ; {
		j = (j + 1) & x.mask
		s := x.slots[j]
		if s.empty() {
			break
		}
		home := s.hash & x.mask
		// s may move into the hole at i only if its home is not cyclically
		// within (i, j]; otherwise it would become unreachable.
		if i <= j {
			if i < home && home <= j {
				continue
			}
		} else if i < home || home <= j {
			continue
		}
		x.slots[i] = s
		i = j
	}
	x.slots[i] = ctSlot{}
}
