package keydist

import (
	stdhkdf "crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"testing"
)

func TestPairPSKSymmetricAndDocumented(t *testing.T) {
	_, a := newNode(t)
	_, b := newNode(t)
	e := Epoch{Number: 42, Key: newSym(t)}
	ab, ba := PairPSK(e, a, b), PairPSK(e, b, a)
	if ab.IsZero() || !ab.Equal(ba) {
		t.Fatal("both ends of a pair must derive the same non-zero PSK")
	}
	// The documented derivation, computed independently.
	lo, hi := a.Raw32(), b.Raw32()
	if a.Compare(b) > 0 {
		lo, hi = hi, lo
	}
	info := []byte("meshnet pair-psk v1")
	info = binary.BigEndian.AppendUint64(info, 42)
	info = append(append(info, lo[:]...), hi[:]...)
	want, err := stdhkdf.Key(sha256.New, e.Key.Bytes(), []byte("meshnet pair-psk salt v1"), string(info), 32)
	if err != nil {
		t.Fatal(err)
	}
	if !ab.Equal(symmetricFrom(want)) {
		t.Fatal("PairPSK does not follow the documented derivation")
	}
}

func TestPairPSKSensitivity(t *testing.T) {
	_, a := newNode(t)
	_, b := newNode(t)
	_, c := newNode(t)
	key := newSym(t)
	base := PairPSK(Epoch{Number: 1, Key: key}, a, b)
	for name, other := range map[string]SymmetricKey{
		"next epoch number, same key": PairPSK(Epoch{Number: 2, Key: key}, a, b),
		"same number, new key":        PairPSK(Epoch{Number: 1, Key: newSym(t)}, a, b),
		"other pair (a,c)":            PairPSK(Epoch{Number: 1, Key: key}, a, c),
		"other pair (b,c)":            PairPSK(Epoch{Number: 1, Key: key}, b, c),
	} {
		if other.Equal(base) {
			t.Errorf("%s: PSK unchanged", name)
		}
	}
	if !PairPSK(Epoch{}, a, b).IsZero() {
		t.Fatal("unkeyed epoch must give the zero (no) PSK")
	}
}

func TestEpochsAdvanceAndForPeer(t *testing.T) {
	e1 := Epoch{Number: 10, Key: newSym(t)}
	e2 := Epoch{Number: 20, Key: newSym(t)}
	var es Epochs
	es = es.Advance(e1)
	es = es.Advance(e2)
	if es.Current.Number != 20 || es.Previous.Number != 10 {
		t.Fatalf("Advance: %d/%d", es.Current.Number, es.Previous.Number)
	}
	if got := es.Advance(e1); got.Current.Number != 20 || got.Previous.Number != 10 {
		t.Fatal("an older epoch moved the epochs")
	}
	for _, tc := range []struct {
		peer uint64
		want uint64
	}{
		{20, 20}, // both current
		{30, 20}, // peer ahead: use ours; it will use ours too once it sees it
		{10, 10}, // peer behind by one: the epoch both hold
		{5, 20},  // peer far behind: it must catch up
		{0, 20},  // unknown
	} {
		if got := es.ForPeer(tc.peer).Number; got != tc.want {
			t.Errorf("ForPeer(%d) = %d, want %d", tc.peer, got, tc.want)
		}
	}
	// Two peers, one a step behind, pick the same epoch from each side.
	ahead := es
	behind := Epochs{Current: e1}
	if !ahead.ForPeer(behind.Current.Number).Key.Equal(behind.ForPeer(ahead.Current.Number).Key) {
		t.Fatal("peers one epoch apart do not agree on a key")
	}
}
