package keydist

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestEvictRecordRoundTripAndTamper(t *testing.T) {
	admin := newAdmin(t)
	_, node := newNode(t)
	rec, err := SignEvictRecord(admin, testCluster(t), 7, testTime, node, "web-3")
	if err != nil {
		t.Fatal(err)
	}
	enc := rec.Encode()
	got, err := DecodeEvictRecord(enc)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "web-3" || !got.Node.Equal(node) || got.Seq != 7 || !got.IssuedAt.Equal(testTime) || !bytes.Equal(got.Encode(), enc) {
		t.Fatalf("round trip: %+v", got)
	}
	if err := got.Verify(admin.Public()); err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(newAdmin(t).Public()); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("verified under another key: %v", err)
	}
	for i := range enc {
		b := slices.Clone(enc)
		b[i] ^= 0xff
		r, err := DecodeEvictRecord(b)
		if err == nil {
			err = r.Verify(admin.Public())
		}
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadSignature) {
			t.Fatalf("flipping byte %d: %v", i, err)
		}
	}
	for n := range len(enc) {
		if _, err := DecodeEvictRecord(enc[:n]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
}

func TestEvictRecordNotAKeyRecord(t *testing.T) {
	admin := newAdmin(t)
	_, node := newNode(t)
	rec, err := SignEvictRecord(admin, testCluster(t), 7, testTime, node, "n")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeKeyRecord(rec.Encode()); !errors.Is(err, ErrMalformed) {
		t.Fatalf("eviction decoded as a key record: %v", err)
	}
}

func TestEvictNodeNames(t *testing.T) {
	admin := newAdmin(t)
	_, node := newNode(t)
	for _, bad := range []string{"a\x1b[2Jb", "tab\there", string([]byte{0xff}), strings.Repeat("n", MaxNodeNameLen+1)} {
		if _, err := SignEvictRecord(admin, testCluster(t), 1, testTime, node, bad); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
	for _, good := range []string{"", "node-1", "ノード", strings.Repeat("n", MaxNodeNameLen)} {
		if _, err := SignEvictRecord(admin, testCluster(t), 1, testTime, node, good); err != nil {
			t.Errorf("name %q refused: %v", good, err)
		}
	}
}
