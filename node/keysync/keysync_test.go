package keysync

import (
	"context"
	"errors"
	"testing"
	"time"

	"meshnet.dev/meshnet/keydist"
	"meshnet.dev/meshnet/node/internal/gossipfake"
)

// A new member is granted the keys by the admin within a sync, installs
// the gossip keyring and announces the epoch; then both ends pair in
// WireGuard with the same preshared key, one of them keeping it alive.
func TestGrantsReachANewMember(t *testing.T) {
	net := gossipfake.NewCluster()
	admin := addNode(t, net, "n1", nil)
	member := addNode(t, net, "n2", admin)
	if member.k.HoldsKeys() {
		t.Fatal("a member holds data keys before its grant")
	}
	if p := member.k.PairPeers(member.g.Members(), nil); p["n1"] {
		t.Fatal("paired before holding a common epoch")
	}
	admin.k.Sync() // seals the keys to n2
	member.k.Sync()
	if !member.k.HoldsKeys() || member.k.Epoch() != admin.k.Epoch() {
		t.Fatalf("member epoch %d, admin %d", member.k.Epoch(), admin.k.Epoch())
	}
	if got, want := member.g.Keyring().GetPrimaryKey(), admin.g.Keyring().GetPrimaryKey(); string(got) != string(want) {
		t.Fatal("the member's gossip keyring has another primary key than the admin's")
	}
	pa, pm := admin.k.PairPeers(admin.g.Members(), nil), member.k.PairPeers(member.g.Members(), nil)
	if !pa["n2"] || !pm["n1"] {
		t.Fatalf("paired: admin %v, member %v", pa, pm)
	}
	a, _ := admin.wg.peer(member.k.Public())
	m, _ := member.wg.peer(admin.k.Public())
	if a.PSK == nil || m.PSK == nil || a.PSK.UAPIHex() != m.PSK.UAPIHex() {
		t.Fatal("the two ends derived different preshared keys")
	}
	if (a.Keepalive == 0) == (m.Keepalive == 0) {
		t.Fatalf("keepalives %v and %v: exactly one end keeps the pair alive", a.Keepalive, m.Keepalive)
	}
}

// An eviction reaches every node by gossip: each drops the node from
// WireGuard and the forwarding table, refuses it as a member and pairs
// with it no more.
func TestEvictionDropsTheNodeEverywhere(t *testing.T) {
	net := gossipfake.NewCluster()
	admin := addNode(t, net, "n1", nil)
	m2, m3 := addNode(t, net, "n2", admin), addNode(t, net, "n3", admin)
	for _, n := range []*testNode{admin, m2, m3} {
		admin.k.Sync()
		n.k.Sync()
		n.publish()
	}
	if !m2.k.PairPeers(m2.g.Members(), nil)["n3"] {
		t.Fatal("n2 and n3 not paired before the eviction")
	}
	if err := admin.k.Evict("n3"); err != nil {
		t.Fatal(err)
	}
	evicted := m3.k.Public()
	m2.k.Sync()
	if !m2.k.IsEvicted(evicted) || len(m2.wg.removed) != 1 || m2.wg.removed[0] != evicted.Raw32() || len(m2.dropped) != 1 {
		t.Fatalf("n2 after the eviction: evicted %v, removed %d peers, dropped %d", m2.k.IsEvicted(evicted), len(m2.wg.removed), len(m2.dropped))
	}
	if m2.k.PairPeers(m2.g.Members(), nil)["n3"] {
		t.Fatal("n2 still pairs with the evicted node")
	}
	var meta []byte
	for _, m := range m2.g.Members() {
		if m.Name == "n3" {
			meta = m.Meta
		}
	}
	if err := m2.k.Admit("n3", meta); err == nil {
		t.Fatal("n2 admits the evicted node as a member")
	}
	m2.k.Sync()
	if len(m2.wg.removed) != 1 || m2.k.Status().Rejected != 0 {
		t.Fatal("an eviction already applied was applied again")
	}
}

// Key requests: malformed, foreign-cluster and unknown-key requests get no
// answer; a member with an old seq gets its newest grant.
func TestAnswerKeyRequest(t *testing.T) {
	net := gossipfake.NewCluster()
	adminNode := addNode(t, net, "n1", nil)
	memberNode := addNode(t, net, "n2", adminNode)
	adminNode.k.Sync()
	memberNode.k.Sync()
	admin, member := adminNode.k, memberNode.k
	st := member.memberState().State()
	if ans := admin.AnswerKeyRequest([]byte("junk")); ans != nil {
		t.Fatal("answered junk")
	}
	other := keyRequest{cluster: keydist.ClusterID{1}, node: member.Public()}
	if ans := admin.AnswerKeyRequest(other.encode()); ans != nil {
		t.Fatal("answered a request for another cluster")
	}
	stranger := newKey(t).Public()
	if ans := admin.AnswerKeyRequest(keyRequest{cluster: st.ClusterID, node: stranger}.encode()); ans != nil {
		t.Fatal("sealed keys to a key no member holds")
	}
	if ans := admin.AnswerKeyRequest(keyRequest{cluster: st.ClusterID, node: member.Public(), seq: st.Seq}.encode()); ans != nil {
		t.Fatal("answered a member that holds the newest grant")
	}
	ans := admin.AnswerKeyRequest(keyRequest{cluster: st.ClusterID, node: member.Public()}.encode())
	rec, err := keydist.DecodeKeyRecord(ans)
	if err != nil || !rec.Has(member.Public()) || rec.Seq != st.Seq {
		t.Fatalf("answer to a member behind: %v (seq %d, want %d)", err, rec.Seq, st.Seq)
	}
	if s := admin.Status(); s.Refused != 3 || s.Served != 1 {
		t.Fatalf("refused %d served %d, want 3 (junk, other cluster, stranger) and 1", s.Refused, s.Served)
	}
}

// A member that missed rotations asks a peer for its grant and applies it.
func TestCatchUpAppliesTheNewestGrant(t *testing.T) {
	net := gossipfake.NewCluster()
	admin := addNode(t, net, "n1", nil)
	member := addNode(t, net, "n2", admin)
	admin.k.Sync()
	member.k.Sync()
	for range 2 { // the member is away: it syncs none of these
		if err := admin.k.rotate(context.Background(), keydist.ReasonOnDemand); err != nil {
			t.Fatal(err)
		}
		admin.k.Sync()
	}
	if member.k.Epoch() == admin.k.Epoch() {
		t.Fatal("the member holds the new epoch without catching up")
	}
	if !member.k.CatchUp([]string{"192.0.2.9:7946", admin.addr}) {
		t.Fatal("catch-up applied nothing")
	}
	if member.k.Epoch() != admin.k.Epoch() || member.k.Status().Applied != 1 || admin.k.Status().Served != 1 {
		t.Fatalf("after catch-up: epoch %d (admin %d), applied %d, served %d",
			member.k.Epoch(), admin.k.Epoch(), member.k.Status().Applied, admin.k.Status().Served)
	}
	if member.k.CatchUp([]string{admin.addr}) {
		t.Fatal("a current member caught up again")
	}
}

func TestAdminOperationsNeedTheAdminKey(t *testing.T) {
	net := gossipfake.NewCluster()
	admin := addNode(t, net, "n1", nil)
	member := addNode(t, net, "n2", admin)
	if _, _, err := member.k.IssueToken(nil, time.Hour); !errors.Is(err, ErrNotAdmin) {
		t.Errorf("token from a member: %v", err)
	}
	if err := member.k.RotateNow(); !errors.Is(err, ErrNotAdmin) {
		t.Errorf("rotation on a member: %v", err)
	}
	if err := member.k.Evict("n1"); !errors.Is(err, ErrNotAdmin) {
		t.Errorf("eviction by a member: %v", err)
	}
	if err := admin.k.Evict("n1"); err == nil {
		t.Error("the admin evicted itself")
	}
	if _, _, err := admin.k.IssueToken(nil, 30*24*time.Hour); err == nil {
		t.Error("a token valid for a month")
	}
}

// A new identity key goes to WireGuard and into the node's metadata.
func TestRotateNodeKey(t *testing.T) {
	net := gossipfake.NewCluster()
	admin := addNode(t, net, "n1", nil)
	old := admin.k.Public()
	if err := admin.k.RotateNodeKey(); err != nil {
		t.Fatal(err)
	}
	pub := admin.k.Public()
	if pub == old || admin.wg.key == nil || admin.k.Private().Public() != pub {
		t.Fatal("the identity key did not change everywhere")
	}
	for _, m := range admin.g.Members() {
		if m.Name == "n1" && !containsKey(m.Meta, pub) {
			t.Fatal("the metadata still names the old key")
		}
	}
}

func TestResealLimiter(t *testing.T) {
	var l resealLimiter
	a, b := newKey(t).Public(), newKey(t).Public()
	now := time.Now()
	if !l.allow(a, now) {
		t.Fatal("first seal refused")
	}
	if l.allow(b, now.Add(resealEvery/2)) {
		t.Fatal("two seals closer than resealEvery")
	}
	if !l.allow(b, now.Add(resealEvery)) {
		t.Fatal("another node refused after resealEvery")
	}
	if l.allow(a, now.Add(resealPerNodeEvery/2)) {
		t.Fatal("one node sealed to twice within resealPerNodeEvery")
	}
	if !l.allow(a, now.Add(resealPerNodeEvery)) {
		t.Fatal("a node refused after resealPerNodeEvery")
	}
}
