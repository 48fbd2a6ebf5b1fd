package keydist

import (
	"errors"
	"testing"
)

func TestGrantsOpenOnlyForTheirRecipient(t *testing.T) {
	f := newClusterFixture(t, 3)
	rec, err := f.issuer.Rotate(f.pubs, false)
	if err != nil {
		t.Fatal(err)
	}
	grants, err := f.issuer.Grants(rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(grants) != len(f.pubs) {
		t.Fatalf("%d grants for %d members", len(grants), len(f.pubs))
	}
	for _, g := range grants {
		if len(g.Recipients) != 1 || g.Seq != rec.Seq || g.Epoch != rec.Epoch {
			t.Fatalf("grant %+v", g)
		}
		if err := g.Verify(f.admin.Public()); err != nil {
			t.Fatal(err)
		}
		back, err := DecodeKeyRecord(g.Encode())
		if err != nil {
			t.Fatal(err)
		}
		for i, priv := range f.privs {
			_, err := back.Open(priv)
			if back.Has(f.pubs[i]) != (err == nil) {
				t.Fatalf("grant for %s: open by member %d: %v", g.Recipients[0].To, i, err)
			}
			if err != nil && !errors.Is(err, ErrNotRecipient) {
				t.Fatalf("open by non-recipient: %v", err)
			}
		}
	}
	// A member applies its grant like the full record.
	for i, m := range f.members {
		for _, g := range grants {
			if g.Has(f.pubs[i]) {
				if _, err := m.ApplyKeyRecord(g); err != nil {
					t.Fatalf("member %d applying its grant: %v", i, err)
				}
			}
		}
	}
}

// TestRestageThenRotateLocksOutAnEvictedNode walks the eviction sequence:
// after Restage members hold a key the evicted node never had, the regular
// Rotate that follows makes it primary, and the purge rotation removes
// every key the evicted node knew.
func TestRestageThenRotateLocksOutAnEvictedNode(t *testing.T) {
	f := newClusterFixture(t, 3)
	evicted := f.members[2].State().Ring
	stay := f.pubs[:2]
	for _, step := range []func() (*KeyRecord, error){
		func() (*KeyRecord, error) { return f.issuer.Restage(stay) },
		func() (*KeyRecord, error) { return f.issuer.Rotate(stay, false) },
		func() (*KeyRecord, error) { return f.issuer.Rotate(stay, false) },
	} {
		before := f.members[0].State().Ring
		rec, err := step()
		if err != nil {
			t.Fatal(err)
		}
		if rec.Has(f.pubs[2]) {
			t.Fatal("sealed to the evicted node")
		}
		for _, m := range f.members[:2] {
			if _, err := m.ApplyKeyRecord(rec); err != nil {
				t.Fatal(err)
			}
		}
		// Every step is readable by a member still on the previous ring:
		// the new primary was installed there before.
		after := f.members[0].State().Ring
		if !before.Contains(after.PrimaryKey()) {
			t.Fatal("a step switched to a primary the members did not hold yet")
		}
	}
	for _, k := range f.members[0].State().Ring.Keys {
		if evicted.Contains(k) {
			t.Fatal("after the purge the ring still holds a key the evicted node knew")
		}
	}
}
