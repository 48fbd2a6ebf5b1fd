package keydist

import (
	"fmt"
)

// ClusterState layout (big endian):
//
//	version u8 | kind u8 (4) | cluster [16] | admin key [32] | seq u64 |
//	keys issued at u64 (Unix ns) | ring primary u8 | ring keys 3 × [32] |
//	current epoch u64 | current key [32] | previous epoch u64 | previous key [32] |
//	eviction count u32 |
//	count × ( node [32] | seq u64 | issued at u64 | name length u8 | name )
const (
	stateFixedLen    = wireHeaderLen + ClusterIDLen + 32 + 8 + 8 + 1 + RingSize*SymmetricKeyLen + 2*(8+SymmetricKeyLen) + 4
	evictionEntryMin = NodeKeyLen + 8 + 8 + 1
	// maxStateLen bounds what is read from a state file.
	maxStateLen = stateFixedLen + MaxEvicted*(evictionEntryMin+MaxNodeNameLen)
)

func (st ClusterState) encode() []byte {
	a := appender{b: make([]byte, 0, stateFixedLen+len(st.Evicted)*(evictionEntryMin+16))}
	a.header(kindClusterState)
	a.bytes(st.ClusterID[:])
	a.bytes(st.Admin.k[:])
	a.u64(st.Seq)
	a.time(st.KeysIssuedAt)
	a.u8(uint8(st.Ring.Primary))
	for _, k := range st.Ring.Keys {
		a.bytes(k.raw())
	}
	for _, e := range []Epoch{st.Epochs.Current, st.Epochs.Previous} {
		a.u64(e.Number)
		a.bytes(e.Key.raw())
	}
	a.u32(uint32(len(st.Evicted)))
	for _, e := range st.Evicted {
		a.bytes(e.Node.k[:])
		a.u64(e.Seq)
		a.time(e.IssuedAt)
		a.u8(uint8(len(e.Name)))
		a.bytes([]byte(e.Name))
	}
	return a.b
}

func decodeClusterState(b []byte) (ClusterState, error) {
	var st ClusterState
	r := reader{b: b}
	r.header(kindClusterState, "cluster state")
	r.copyInto(st.ClusterID[:], "cluster id")
	r.copyInto(st.Admin.k[:], "admin key")
	st.Seq = r.u64("sequence number")
	st.KeysIssuedAt = r.time("keys issue time")
	st.Ring.Primary = int(r.u8("ring primary"))
	for i := range st.Ring.Keys {
		if v := r.take(SymmetricKeyLen, "ring key"); v != nil {
			st.Ring.Keys[i] = symmetricFrom(v)
		}
	}
	for _, e := range []*Epoch{&st.Epochs.Current, &st.Epochs.Previous} {
		e.Number = r.u64("epoch number")
		if v := r.take(SymmetricKeyLen, "epoch key"); v != nil {
			k := symmetricFrom(v)
			switch {
			case e.Number == 0 && !k.IsZero():
				r.fail("epoch 0 carries a key")
			case e.Number != 0 && k.IsZero():
				r.fail("epoch %d has no key", e.Number)
			case e.Number != 0:
				e.Key = k
			}
		}
	}
	if r.err == nil && st.Epochs.Previous.Number != 0 && st.Epochs.Previous.Number >= st.Epochs.Current.Number {
		r.fail("previous epoch %d is not older than current epoch %d", st.Epochs.Previous.Number, st.Epochs.Current.Number)
	}
	n := r.u32("eviction count")
	if r.err == nil && n > MaxEvicted {
		r.fail("%d evictions exceed the limit of %d", n, MaxEvicted)
	}
	if r.err == nil && uint64(len(r.b)) < uint64(n)*evictionEntryMin {
		r.fail("truncated eviction list")
	}
	if r.err == nil && n > 0 {
		st.Evicted = make([]Eviction, 0, n)
	}
	for i := uint32(0); i < n && r.err == nil; i++ {
		var e Eviction
		r.copyInto(e.Node.k[:], "evicted node")
		e.Seq = r.u64("eviction seq")
		e.IssuedAt = r.time("eviction time")
		e.Name = string(r.take(int(r.u8("name length")), "node name"))
		if r.err == nil {
			if err := checkNodeName(e.Name); err != nil {
				return ClusterState{}, err
			}
			if len(st.Evicted) > 0 && st.Evicted[len(st.Evicted)-1].Node.Compare(e.Node) >= 0 {
				r.fail("eviction list is not sorted and unique")
			}
		}
		st.Evicted = append(st.Evicted, e)
	}
	if err := r.end("cluster state"); err != nil {
		return ClusterState{}, err
	}
	if st.ClusterID.IsZero() || st.Admin.IsZero() {
		return ClusterState{}, fmt.Errorf("%w: cluster state lacks a cluster id or admin key", ErrMalformed)
	}
	if err := st.Ring.Validate(); err != nil {
		return ClusterState{}, err
	}
	return st, nil
}
