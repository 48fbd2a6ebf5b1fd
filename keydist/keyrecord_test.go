package keydist

import (
	"bytes"
	"crypto/rand"
	"errors"
	"slices"
	"testing"
)

type sealedFixture struct {
	admin   AdminPrivate
	privs   []NodePrivate
	pubs    []NodePublic
	outside NodePrivate // not a recipient: e.g. an evicted node
	mat     Material
	rec     *KeyRecord
}

func newSealedFixture(t *testing.T, n int) sealedFixture {
	t.Helper()
	f := sealedFixture{admin: newAdmin(t)}
	for range n {
		k, p := newNode(t)
		f.privs = append(f.privs, k)
		f.pubs = append(f.pubs, p)
	}
	f.outside, _ = newNode(t)
	f.mat = testMaterial(t, testCluster(t), 1234)
	// Duplicates in the recipient list are dropped.
	to := append(slices.Clone(f.pubs), f.pubs[0])
	rec, err := SealKeyRecord(f.admin, 99, testTime, f.mat, to, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f.rec = rec
	return f
}

func sameMaterial(a, b Material) bool {
	return a.ClusterID == b.ClusterID && a.Epoch.Number == b.Epoch.Number && a.Epoch.Key.Equal(b.Epoch.Key) && a.Ring.Equal(b.Ring)
}

func TestKeyRecordSealOpen(t *testing.T) {
	f := newSealedFixture(t, 5)
	if len(f.rec.Recipients) != 5 {
		t.Fatalf("%d recipients, want 5", len(f.rec.Recipients))
	}
	if err := f.rec.Verify(f.admin.Public()); err != nil {
		t.Fatal(err)
	}
	for i, k := range f.privs {
		m, err := f.rec.Open(k)
		if err != nil {
			t.Fatalf("recipient %d: %v", i, err)
		}
		if !sameMaterial(m, f.mat) {
			t.Fatalf("recipient %d opened different material", i)
		}
		if !f.rec.Has(f.pubs[i]) {
			t.Fatalf("Has(recipient %d) = false", i)
		}
	}
	if _, err := f.rec.Open(f.outside); !errors.Is(err, ErrNotRecipient) {
		t.Fatalf("outsider Open: %v, want ErrNotRecipient", err)
	}
	if _, err := f.rec.Open(NodePrivate{}); !errors.Is(err, ErrNotRecipient) {
		t.Fatalf("zero key Open: %v", err)
	}
}

// An outsider who relabels a box with its own key still cannot open it.
func TestKeyRecordBoxOnlyOpensForItsRecipient(t *testing.T) {
	f := newSealedFixture(t, 2)
	rec := *f.rec
	rec.Recipients = slices.Clone(rec.Recipients)
	rec.Recipients[0].To = f.outside.Public()
	slices.SortFunc(rec.Recipients, func(a, b Sealed) int { return a.To.Compare(b.To) })
	if err := rec.Verify(f.admin.Public()); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("relabelled record verifies: %v", err)
	}
	if _, err := rec.Open(f.outside); !errors.Is(err, ErrMalformed) {
		t.Fatalf("outsider opened a box sealed to another node: %v", err)
	}
}

// A box moved into a record for another epoch does not pass as that epoch's.
func TestKeyRecordMaterialBoundToRecord(t *testing.T) {
	f := newSealedFixture(t, 1)
	other, err := SealKeyRecord(f.admin, 100, testTime, testMaterial(t, f.mat.ClusterID, 5555), f.pubs, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other.Recipients[0].Box = f.rec.Recipients[0].Box
	if _, err := other.Open(f.privs[0]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("box from epoch %d accepted in a record for epoch %d: %v", f.rec.Epoch, other.Epoch, err)
	}
}

func TestKeyRecordEncodeDecode(t *testing.T) {
	f := newSealedFixture(t, 3)
	enc := f.rec.Encode()
	got, err := DecodeKeyRecord(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Encode(), enc) {
		t.Fatal("re-encoding differs")
	}
	if got.ClusterID != f.rec.ClusterID || got.Seq != 99 || !got.IssuedAt.Equal(testTime) || got.Epoch != 1234 {
		t.Fatalf("decoded header %+v", got)
	}
	if err := got.Verify(f.admin.Public()); err != nil {
		t.Fatal(err)
	}
	// The decoded record does not alias the input.
	enc[len(enc)/2] ^= 0xff
	if err := got.Verify(f.admin.Public()); err != nil {
		t.Fatal("decoded record changed with its input buffer")
	}
}

func TestKeyRecordTamper(t *testing.T) {
	f := newSealedFixture(t, 2)
	enc := f.rec.Encode()
	adminPub := f.admin.Public()
	for i := range enc {
		b := slices.Clone(enc)
		b[i] ^= 0xff
		rec, err := DecodeKeyRecord(b)
		if err == nil {
			err = rec.Verify(adminPub)
		}
		if err == nil {
			t.Fatalf("flipping byte %d went unnoticed", i)
		}
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadSignature) {
			t.Fatalf("byte %d: unexpected error %v", i, err)
		}
	}
	for n := range len(enc) {
		if _, err := DecodeKeyRecord(enc[:n]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("truncated to %d bytes: %v", n, err)
		}
	}
	if _, err := DecodeKeyRecord(append(slices.Clone(enc), 0)); !errors.Is(err, ErrMalformed) {
		t.Fatal("trailing byte accepted")
	}
	if err := f.rec.Verify(newAdmin(t).Public()); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("another admin key verified the record: %v", err)
	}
}

func TestKeyRecordLimits(t *testing.T) {
	if _, err := DecodeKeyRecord(make([]byte, MaxKeyRecordLen+1)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("oversized record: %v", err)
	}
	f := newSealedFixture(t, 1)
	enc := f.rec.Encode()
	// Claim more recipients than allowed.
	b := slices.Clone(enc)
	countAt := wireHeaderLen + ClusterIDLen + 8 + 8 + 8
	b[countAt], b[countAt+1], b[countAt+2], b[countAt+3] = 0xff, 0xff, 0xff, 0xff
	if _, err := DecodeKeyRecord(b); !errors.Is(err, ErrMalformed) {
		t.Fatalf("huge recipient count: %v", err)
	}
	// Unsorted recipients are not canonical.
	two := newSealedFixture(t, 2).rec
	two.Recipients[0], two.Recipients[1] = two.Recipients[1], two.Recipients[0]
	if _, err := DecodeKeyRecord(two.Encode()); !errors.Is(err, ErrMalformed) {
		t.Fatalf("unsorted recipients: %v", err)
	}
}

func TestSealKeyRecordRefuses(t *testing.T) {
	admin := newAdmin(t)
	mat := testMaterial(t, testCluster(t), 1)
	_, pub := newNode(t)
	if _, err := SealKeyRecord(admin, 1, testTime, mat, []NodePublic{{}}, rand.Reader); err == nil {
		t.Fatal("sealed to the zero key")
	}
	if _, err := SealKeyRecord(admin, 0, testTime, mat, []NodePublic{pub}, rand.Reader); err == nil {
		t.Fatal("sealed with seq 0")
	}
	bad := mat
	bad.Epoch.Key = SymmetricKey{}
	if _, err := SealKeyRecord(admin, 1, testTime, bad, []NodePublic{pub}, rand.Reader); !errors.Is(err, ErrMalformed) {
		t.Fatalf("sealed material without an epoch key: %v", err)
	}
	if _, err := SealKeyRecord(AdminPrivate{}, 1, testTime, mat, []NodePublic{pub}, rand.Reader); err == nil {
		t.Fatal("sealed without an admin key")
	}
}
