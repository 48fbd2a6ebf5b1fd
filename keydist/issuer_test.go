package keydist

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestIssuerRotate(t *testing.T) {
	f := newClusterFixture(t, 2)
	before := f.issuer.State()
	f.clock.Advance(time.Hour)
	rec, err := f.issuer.Rotate(f.pubs, false)
	if err != nil {
		t.Fatal(err)
	}
	after := f.issuer.State()
	if !after.Ring.Equal(before.Ring.Rotate(after.Ring.Keys[2])) {
		t.Fatal("regular rotation is not a one-key shift")
	}
	if after.Epochs.Current.Number != rec.Seq || after.Epochs.Previous.Number != before.Epochs.Current.Number {
		t.Fatalf("epochs %d/%d after rotation seq %d", after.Epochs.Current.Number, after.Epochs.Previous.Number, rec.Seq)
	}
	if !after.KeysIssuedAt.Equal(f.clock.Now()) || rec.Seq <= before.Seq {
		t.Fatal("rotation did not advance the sequence and issue time")
	}
	// Reseal keeps the keys and the rotation time.
	f.clock.Advance(time.Minute)
	re, err := f.issuer.Reseal(f.pubs)
	if err != nil {
		t.Fatal(err)
	}
	st := f.issuer.State()
	if re.Epoch != rec.Epoch || !st.Ring.Equal(after.Ring) || !st.KeysIssuedAt.Equal(after.KeysIssuedAt) || re.Seq <= rec.Seq {
		t.Fatal("reseal changed keys or did not advance the sequence")
	}
}

// Restoring issuer.state from an old backup must not make members reject
// the admin forever: sequences and epochs follow the clock.
func TestIssuerRestoredFromBackup(t *testing.T) {
	f := newClusterFixture(t, 1)
	dir := f.issuer.cfg.StateDir
	backup, err := os.ReadFile(filepath.Join(dir, IssuerStateFile))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		f.clock.Advance(time.Hour)
		rec, err := f.issuer.Rotate(f.pubs, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.members[0].ApplyKeyRecord(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, IssuerStateFile), backup, 0o600); err != nil {
		t.Fatal(err)
	}
	restored, err := OpenIssuer(IssuerConfig{StateDir: dir, Key: f.admin, Clock: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Second)
	rec, err := restored.Rotate(f.pubs, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.members[0].ApplyKeyRecord(rec); err != nil {
		t.Fatalf("member rejects the restored admin: %v", err)
	}
}

func TestIssuerRefusals(t *testing.T) {
	f := newClusterFixture(t, 0)
	dir := f.issuer.cfg.StateDir
	if _, err := CreateCluster(IssuerConfig{StateDir: dir, Key: f.admin}); err == nil {
		t.Fatal("created a second cluster over issuer.state")
	}
	if _, err := OpenIssuer(IssuerConfig{StateDir: dir, Key: newAdmin(t)}); err == nil {
		t.Fatal("opened issuer state with another admin key")
	}
	if _, err := OpenIssuer(IssuerConfig{StateDir: t.TempDir(), Key: f.admin}); err == nil {
		t.Fatal("opened a missing issuer state")
	}
	if _, err := OpenIssuer(IssuerConfig{StateDir: dir}); err == nil {
		t.Fatal("opened without an admin key")
	}
	if _, _, err := f.issuer.IssueToken(nil, 0); err == nil {
		t.Fatal("issued a token that is already expired")
	}
	if _, err := f.issuer.Evict(NodePublic{}, "x"); err == nil {
		t.Fatal("evicted the zero key")
	}
}

func TestIssuerTokenCarriesCurrentRing(t *testing.T) {
	f := newClusterFixture(t, 0)
	f.clock.Advance(time.Hour)
	if _, err := f.issuer.Rotate(nil, false); err != nil {
		t.Fatal(err)
	}
	text, tok, err := f.issuer.IssueToken(nil, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !tok.Ring.Equal(f.issuer.State().Ring) || !tok.Expiry.Equal(f.clock.Now().Add(30*time.Minute)) {
		t.Fatal("token does not carry the current ring and expiry")
	}
	if _, err := ParseToken(text, f.clock.Now().Add(31*time.Minute)); !errors.Is(err, ErrExpired) {
		t.Fatalf("token past its ttl: %v", err)
	}
}
