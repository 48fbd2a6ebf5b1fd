package keydist

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func testState(t *testing.T) ClusterState {
	t.Helper()
	st := ClusterState{
		ClusterID:    testCluster(t),
		Admin:        newAdmin(t).Public(),
		Seq:          77,
		KeysIssuedAt: testTime,
		Ring:         newRing(t),
		Epochs:       Epochs{Current: Epoch{Number: 9, Key: newSym(t)}, Previous: Epoch{Number: 3, Key: newSym(t)}},
	}
	for _, name := range []string{"a", "b", "c"} {
		_, pub := newNode(t)
		var added bool
		var err error
		st, added, err = st.withEviction(Eviction{Node: pub, Name: name, Seq: 5, IssuedAt: testTime})
		if err != nil || !added {
			t.Fatal(err)
		}
	}
	return st
}

func sameState(a, b ClusterState) bool {
	if len(a.Evicted) != len(b.Evicted) {
		return false
	}
	for i := range a.Evicted {
		x, y := a.Evicted[i], b.Evicted[i]
		if !x.Node.Equal(y.Node) || x.Name != y.Name || x.Seq != y.Seq || !x.IssuedAt.Equal(y.IssuedAt) {
			return false
		}
	}
	return a.ClusterID == b.ClusterID && a.Admin.Equal(b.Admin) && a.Seq == b.Seq && a.KeysIssuedAt.Equal(b.KeysIssuedAt) &&
		a.Ring.Equal(b.Ring) && a.Epochs.Current.Number == b.Epochs.Current.Number && a.Epochs.Current.Key.Equal(b.Epochs.Current.Key) &&
		a.Epochs.Previous.Number == b.Epochs.Previous.Number && a.Epochs.Previous.Key.Equal(b.Epochs.Previous.Key)
}

func TestClusterStateCodec(t *testing.T) {
	st := testState(t)
	enc := st.encode()
	got, err := decodeClusterState(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !sameState(got, st) || !bytes.Equal(got.encode(), enc) {
		t.Fatal("round trip differs")
	}
	for i := range st.Evicted {
		if !got.IsEvicted(st.Evicted[i].Node) {
			t.Fatal("IsEvicted misses an evicted node")
		}
	}
	_, stranger := newNode(t)
	if got.IsEvicted(stranger) {
		t.Fatal("IsEvicted reports a stranger")
	}
	for n := range len(enc) {
		if _, err := decodeClusterState(enc[:n]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	// An unkeyed member (joined, no key record yet) is a valid state.
	st.Epochs = Epochs{}
	st.Evicted = nil
	if _, err := decodeClusterState(st.encode()); err != nil {
		t.Fatalf("unkeyed state: %v", err)
	}
}

func TestStateFiles(t *testing.T) {
	dir := t.TempDir()
	st := testState(t)
	if err := saveState(dir, ClusterStateFile, st); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, ClusterStateFile)
	if m := fileMode(t, path); m != 0o600 {
		t.Fatalf("state file mode %04o", m)
	}
	got, exists, err := loadState(dir, ClusterStateFile)
	if err != nil || !exists || !sameState(got, st) {
		t.Fatalf("load: exists=%v err=%v", exists, err)
	}
	if _, exists, err := loadState(dir, IssuerStateFile); exists || err != nil {
		t.Fatalf("missing file: exists=%v err=%v", exists, err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := loadState(dir, ClusterStateFile); !errors.Is(err, ErrKeyFilePermissions) {
		t.Fatalf("0644 state file: %v", err)
	}
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := loadState(dir, ClusterStateFile); !errors.Is(err, ErrKeyFileCorrupt) || !errors.Is(err, ErrMalformed) {
		t.Fatalf("corrupt state file: %v", err)
	}
}
