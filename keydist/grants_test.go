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
