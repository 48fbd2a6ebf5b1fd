package keysync

import (
	"errors"
	"testing"
	"time"

	"meshnet.dev/meshnet/keydist"
)

// TestPairPSKAgreesAfterJoin follows the real flow: a cluster is started,
// a node joins with a token and opens its grant, and both ends derive the
// same preshared key for their pair at every stage.
func TestPairPSKAgreesAfterJoin(t *testing.T) {
	adminDir, memberDir := t.TempDir(), t.TempDir()
	if _, err := InitCluster(adminDir); err != nil {
		t.Fatal(err)
	}
	adminKey, _, _ := keydist.LoadOrCreateNodeKey(adminDir)
	admin, err := keydist.OpenMember(adminDir, adminKey)
	if err != nil {
		t.Fatal(err)
	}
	ak, _ := keydist.LoadAdminKey(adminDir)
	is, err := keydist.OpenIssuer(keydist.IssuerConfig{StateDir: adminDir, Key: ak})
	if err != nil {
		t.Fatal(err)
	}
	text, _, err := is.IssueToken(nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := keydist.ParseToken(text, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	nodeKey, _, _ := keydist.LoadOrCreateNodeKey(memberDir)
	member, err := keydist.JoinMember(memberDir, nodeKey, tok)
	if err != nil {
		t.Fatal(err)
	}
	check := func(stage string) {
		t.Helper()
		a, ae := admin.PairPSK(nodeKey.Public(), member.State().Epochs.Current.Number)
		b, be := member.PairPSK(adminKey.Public(), admin.State().Epochs.Current.Number)
		if !a.Equal(b) || ae != be {
			t.Fatalf("%s: PSKs differ (epochs %d vs %d)", stage, ae, be)
		}
	}
	check("before the grant")
	rec, err := is.Reseal([]keydist.NodePublic{nodeKey.Public()})
	if err != nil {
		t.Fatal(err)
	}
	grants, _ := is.Grants(rec)
	if _, err := member.ApplyKeyRecord(grants[0]); err != nil {
		t.Fatal(err)
	}
	check("after the grant")
	rot, err := is.Rotate([]keydist.NodePublic{adminKey.Public(), nodeKey.Public()}, false)
	if err != nil {
		t.Fatal(err)
	}
	grants, _ = is.Grants(rot)
	for _, g := range grants {
		if g.Has(nodeKey.Public()) {
			member.ApplyKeyRecord(g)
		} else {
			admin.ApplyKeyRecord(g)
		}
	}
	check("after a rotation")
}

// pastClock issues records and tokens an hour ago.
type pastClock struct{ keydist.Clock }

func (pastClock) Now() time.Time { return time.Now().Add(-time.Hour) }

// TestStartWithExpiredTokenOfOwnCluster: a member whose configuration
// still holds the token it joined with starts from its state directory once
// that token has expired; a node that never joined still gets the expiry
// error, and so does one whose state belongs to another cluster.
func TestStartWithExpiredTokenOfOwnCluster(t *testing.T) {
	adminDir, memberDir, freshDir, otherDir := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	if _, err := InitCluster(adminDir); err != nil {
		t.Fatal(err)
	}
	if _, err := InitCluster(otherDir); err != nil {
		t.Fatal(err)
	}
	ak, _ := keydist.LoadAdminKey(adminDir)
	is, err := keydist.OpenIssuer(keydist.IssuerConfig{StateDir: adminDir, Key: ak, Clock: pastClock{keydist.SystemClock()}})
	if err != nil {
		t.Fatal(err)
	}
	text, tok, err := is.IssueToken(nil, time.Minute) // expired 59 minutes ago
	if err != nil {
		t.Fatal(err)
	}
	nodeKey, _, _ := keydist.LoadOrCreateNodeKey(memberDir)
	if _, err := keydist.JoinMember(memberDir, nodeKey, tok); err != nil {
		t.Fatal(err)
	}
	start := func(dir string) (*Keys, error) {
		k, _, err := Load(Config{StateDir: dir, Token: text}, nil)
		return k, err
	}
	k, err := start(memberDir)
	if err != nil {
		t.Fatalf("a member with an expired token in its config does not start: %v", err)
	}
	if k.Public() != nodeKey.Public() {
		t.Fatal("the member did not open its own keys")
	}
	for _, dir := range []string{freshDir, otherDir} {
		if _, err := start(dir); !errors.Is(err, keydist.ErrExpired) {
			t.Errorf("start in %s with an expired token: got %v, want the expiry error", dir, err)
		}
	}
}
