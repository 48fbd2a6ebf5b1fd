package keydist

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// clusterFixture is an issuer and n member nodes, each with its own state
// directory, joined through a real token.
type clusterFixture struct {
	clock   *manualClock
	issuer  *Issuer
	admin   AdminPrivate
	privs   []NodePrivate
	pubs    []NodePublic
	dirs    []string
	members []*Member
}

func newClusterFixture(t *testing.T, n int) *clusterFixture {
	t.Helper()
	f := &clusterFixture{clock: newManualClock(testTime), admin: newAdmin(t)}
	is, err := CreateCluster(IssuerConfig{StateDir: t.TempDir(), Key: f.admin, Clock: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	f.issuer = is
	tokText, _, err := is.IssueToken([]netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:7946")}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ParseToken(tokText, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		priv, pub := newNode(t)
		dir := t.TempDir()
		m, err := JoinMember(dir, priv, tok)
		if err != nil {
			t.Fatal(err)
		}
		f.privs, f.pubs, f.dirs, f.members = append(f.privs, priv), append(f.pubs, pub), append(f.dirs, dir), append(f.members, m)
	}
	return f
}

// applyAll applies rec on every member and returns the errors.
func (f *clusterFixture) applyAll(rec *KeyRecord) []error {
	errs := make([]error, len(f.members))
	for i, m := range f.members {
		_, errs[i] = m.ApplyKeyRecord(rec)
	}
	return errs
}

func TestMembersShareKeys(t *testing.T) {
	f := newClusterFixture(t, 3)
	for i, m := range f.members {
		st := m.State()
		if !st.Ring.Equal(f.issuer.State().Ring) || !st.Admin.Equal(f.admin.Public()) || !st.Epochs.Current.IsZero() {
			t.Fatalf("member %d after join: wrong ring/admin or already keyed", i)
		}
	}
	rec, err := f.issuer.Reseal(f.pubs)
	if err != nil {
		t.Fatal(err)
	}
	for i, err := range f.applyAll(rec) {
		if err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
	}
	want := f.issuer.State().Epochs.Current
	for i, m := range f.members {
		if got := m.State().Epochs.Current; got.Number != want.Number || !got.Key.Equal(want.Key) {
			t.Fatalf("member %d holds epoch %d", i, got.Number)
		}
	}
	// Every pair derives one PSK from both ends.
	for i := range f.members {
		for j := range f.members {
			a, ea := f.members[i].PairPSK(f.pubs[j], want.Number)
			b, eb := f.members[j].PairPSK(f.pubs[i], want.Number)
			if a.IsZero() || !a.Equal(b) || ea != eb {
				t.Fatalf("pair %d,%d: PSKs differ", i, j)
			}
		}
	}
	// A replay of the same record is rejected and changes nothing.
	for i, err := range f.applyAll(rec) {
		if !errors.Is(err, ErrReplayed) {
			t.Fatalf("member %d: replay: %v", i, err)
		}
	}
}

func TestMemberRejections(t *testing.T) {
	f := newClusterFixture(t, 1)
	m := f.members[0]
	good, err := f.issuer.Reseal(f.pubs)
	if err != nil {
		t.Fatal(err)
	}
	// Signed by a key that is not the pinned admin key.
	mallory := newAdmin(t)
	forged, err := SealKeyRecord(mallory, good.Seq+100, testTime, testMaterial(t, good.ClusterID, good.Epoch+100), f.pubs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.ApplyKeyRecord(forged); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged record: %v", err)
	}
	// Another cluster's record, even from the same admin key.
	other, err := SealKeyRecord(f.admin, good.Seq+1, testTime, testMaterial(t, testCluster(t), good.Epoch+1), f.pubs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.ApplyKeyRecord(other); !errors.Is(err, ErrWrongCluster) {
		t.Fatalf("other cluster: %v", err)
	}
	// Not sealed to this node.
	_, stranger := newNode(t)
	notMine, err := SealKeyRecord(f.admin, good.Seq+1, testTime, testMaterial(t, good.ClusterID, good.Epoch+1), []NodePublic{stranger}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.ApplyKeyRecord(notMine); !errors.Is(err, ErrNotRecipient) {
		t.Fatalf("record for others: %v", err)
	}
	// None of the rejections moved the tracker: the good record applies.
	if _, err := m.ApplyKeyRecord(good); err != nil {
		t.Fatalf("good record after rejections: %v", err)
	}
	// An eviction signed by another key is refused too.
	ev, err := SignEvictRecord(mallory, good.ClusterID, 5, testTime, f.pubs[0], "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.ApplyEvictRecord(ev); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged eviction: %v", err)
	}
}

func TestEvictionLocksNodeOut(t *testing.T) {
	f := newClusterFixture(t, 3)
	first, err := f.issuer.Reseal(f.pubs)
	if err != nil {
		t.Fatal(err)
	}
	f.applyAll(first)
	victim := 2
	victimState := f.members[victim].State()

	ev, err := f.issuer.Evict(f.pubs[victim], "node-2")
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range f.members {
		added, err := m.ApplyEvictRecord(ev)
		if err != nil || !added {
			t.Fatalf("member %d: eviction added=%v err=%v", i, added, err)
		}
		if again, err := m.ApplyEvictRecord(ev); again || err != nil {
			t.Fatalf("member %d: repeated eviction added=%v err=%v", i, again, err)
		}
		if !m.IsEvicted(f.pubs[victim]) || m.IsEvicted(f.pubs[0]) {
			t.Fatalf("member %d: eviction list wrong", i)
		}
	}
	// The caller passes every member, the victim included: the issuer
	// leaves it out.
	f.clock.Advance(time.Second)
	emergency, err := f.issuer.Rotate(f.pubs, true)
	if err != nil {
		t.Fatal(err)
	}
	if emergency.Has(f.pubs[victim]) {
		t.Fatal("emergency rotation sealed to the evicted node")
	}
	errs := f.applyAll(emergency)
	for i, err := range errs {
		if i == victim && !errors.Is(err, ErrNotRecipient) {
			t.Fatalf("evicted node applied the rotation: %v", err)
		}
		if i != victim && err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
	}
	if _, err := emergency.Open(f.privs[victim]); !errors.Is(err, ErrNotRecipient) {
		t.Fatalf("evicted node opened the record: %v", err)
	}
	// The evicted node cannot read what the others now send, nor derive
	// their new pair keys.
	live := f.members[0].State()
	if victimState.Ring.Contains(live.Ring.PrimaryKey()) {
		t.Fatal("evicted node holds the new gossip primary")
	}
	if victimState.Epochs.Current.Key.Equal(live.Epochs.Current.Key) {
		t.Fatal("evicted node holds the new data epoch key")
	}
	// After the purge rotation it holds no key of the ring at all.
	f.clock.Advance(time.Minute)
	purge, err := f.issuer.Rotate(f.pubs, false)
	if err != nil {
		t.Fatal(err)
	}
	f.applyAll(purge)
	for _, k := range victimState.Ring.Keys {
		if f.members[0].State().Ring.Contains(k) {
			t.Fatal("after the purge the ring still holds a key the evicted node knew")
		}
	}
}

func TestMemberRestart(t *testing.T) {
	f := newClusterFixture(t, 1)
	rec, err := f.issuer.Reseal(f.pubs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.members[0].ApplyKeyRecord(rec); err != nil {
		t.Fatal(err)
	}
	m, err := OpenMember(f.dirs[0], f.privs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !sameState(m.State(), f.members[0].State()) {
		t.Fatal("reopened member lost state")
	}
	// The replay window survives the restart.
	if _, err := m.ApplyKeyRecord(rec); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay after restart: %v", err)
	}
	if m, err := OpenMember(t.TempDir(), f.privs[0]); !errors.Is(err, fs.ErrNotExist) || m != nil {
		t.Fatalf("OpenMember without state: %v", err)
	}
}

func TestJoinMemberExistingState(t *testing.T) {
	f := newClusterFixture(t, 1)
	dir, priv := f.dirs[0], f.privs[0]
	// A newer token for the same cluster brings a node that was away up to
	// the current keyring.
	for range 2 {
		f.clock.Advance(time.Hour)
		if _, err := f.issuer.Rotate(f.pubs, false); err != nil {
			t.Fatal(err)
		}
	}
	text, _, err := f.issuer.IssueToken(nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := ParseToken(text, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	m, err := JoinMember(dir, priv, fresh)
	if err != nil {
		t.Fatal(err)
	}
	if !m.State().Ring.Equal(f.issuer.State().Ring) {
		t.Fatal("rejoin with a newer token did not take its keyring")
	}
	// A token from another cluster is refused and the state kept.
	before, _ := os.ReadFile(filepath.Join(dir, ClusterStateFile))
	g := newClusterFixture(t, 0)
	otherText, _, err := g.issuer.IssueToken(nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ParseToken(otherText, g.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := JoinMember(dir, priv, other); err == nil || !strings.Contains(err.Error(), ClusterStateFile) {
		t.Fatalf("joined another cluster over existing state: %v", err)
	}
	// The same cluster id under another admin key is refused.
	spoof := fresh
	spoof.AdminPub = newAdmin(t).Public()
	if _, err := JoinMember(dir, priv, spoof); err == nil {
		t.Fatal("accepted a token from another admin key for the pinned cluster")
	}
	after, _ := os.ReadFile(filepath.Join(dir, ClusterStateFile))
	if string(before) != string(after) {
		t.Fatal("refused joins modified cluster.state")
	}
}

// A node that rejoins with a fresh token must not go back to the older
// keys of a grant issued before that token and still in gossip.
func TestGrantOlderThanTokenIsRefused(t *testing.T) {
	f := newClusterFixture(t, 1)
	stale, err := f.issuer.Rotate(f.pubs, false) // never applied: the node was away
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute)
	if _, err := f.issuer.Rotate(f.pubs, false); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute)
	text, _, err := f.issuer.IssueToken(nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ParseToken(text, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	m, err := JoinMember(f.dirs[0], f.privs[0], tok)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.ApplyKeyRecord(stale); !errors.Is(err, ErrReplayed) {
		t.Fatalf("applying a grant older than the token: got %v, want ErrReplayed", err)
	}
	if !m.State().Ring.Equal(tok.Ring) {
		t.Fatal("the stale grant replaced the token's keyring")
	}
	// A fresh seal of the current keys is taken.
	fresh, err := f.issuer.Reseal(f.pubs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.ApplyKeyRecord(fresh); err != nil {
		t.Fatalf("a grant newer than the token: %v", err)
	}
}
