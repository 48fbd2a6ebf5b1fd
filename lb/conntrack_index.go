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
	hash  uint64
	entry int32 // -1: empty
}

func newCTIndex(capacity int) ctIndex {
	n := 1
	for n < 2*capacity {
		n <<= 1
	}
	slots := make([]ctSlot, n)
	for i := range slots {
		slots[i].entry = -1
	}
	return ctIndex{slots: slots, mask: uint64(n - 1)}
}

// insert adds entry under hash. The index must have room (callers keep the
// entry count at most half the slots).
func (x *ctIndex) insert(hash uint64, entry int32) {
	for i := hash & x.mask; ; i = (i + 1) & x.mask {
		if x.slots[i].entry < 0 {
			x.slots[i] = ctSlot{hash: hash, entry: entry}
			return
		}
	}
}

// remove deletes entry (stored under hash) and shifts later members of its
// probe run back, so lookups never need tombstones.
func (x *ctIndex) remove(hash uint64, entry int32) {
	i := hash & x.mask
	for x.slots[i].entry != entry {
		if x.slots[i].entry < 0 {
			return // not present
		}
		i = (i + 1) & x.mask
	}
	for j := i; ; {
		j = (j + 1) & x.mask
		s := x.slots[j]
		if s.entry < 0 {
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
	x.slots[i] = ctSlot{entry: -1}
}
