package node

import (
	"bytes"
	crand "crypto/rand"
	"testing"
	"time"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/gossip/memnet"
	"meshnet.dev/meshnet/keydist"
)

// A member cut off while the keys rotate several times can read no gossip
// when the cut heals: it fetches the grant sealed to it by key catch-up and
// is a working member again.
func TestMemberCatchesUpOnMissedRotations(t *testing.T) {
	c := &fakeCluster{t: t, gossip: memnet.New(1), vxlan: encap.NewChannelNetwork(), rotation: time.Second}
	for _, name := range []string{"host1", "host2", "host3"} {
		c.start(name)
	}
	c.converged()
	admin, away := c.hosts[0].node, c.hosts[2].node
	c.gossip.Partition([]string{"host3"}, []string{"host1", "host2"})
	// Three rotations: the keyring holds three keys, so host3 now shares
	// none with the others.
	seen := map[uint64]bool{admin.keys.issuer.State().Epochs.Current.Number: true}
	poll(t, 30*time.Second, "three rotations during the cut", func() bool {
		seen[admin.keys.issuer.State().Epochs.Current.Number] = true
		return len(seen) > 3
	})
	c.gossip.Heal()
	poll(t, 60*time.Second, "host3 back on the current keys and in the cluster", func() bool {
		return away.keys.epoch() == admin.keys.epoch() && allAlive(c)
	})
	c.converged()
	// Rotations go on every second, so once back host3 may itself answer
	// a member that fell one behind; what matters is that it was answered.
	if away.catchUpApplied.Load() == 0 || admin.catchUpServed.Load()+c.hosts[1].node.catchUpServed.Load() == 0 {
		t.Fatalf("host3 came back without a catch-up answer: it applied %d catch-up grants; host1 and host2 served %d and %d",
			away.catchUpApplied.Load(), admin.catchUpServed.Load(), c.hosts[1].node.catchUpServed.Load())
	}
}

// allAlive reports whether every host sees every other as alive.
func allAlive(c *fakeCluster) bool {
	for _, h := range c.hosts {
		alive := 0
		for _, m := range h.node.db.Members() {
			if m.State == gossip.StateAlive {
				alive++
			}
		}
		if alive != len(c.hosts) {
			return false
		}
	}
	return true
}

// Key requests: malformed, foreign-cluster and unknown-key requests get no
// answer; a member with an old seq gets its newest grant.
func TestAnswerKeyRequest(t *testing.T) {
	c := newFakeCluster(t, 2)
	c.converged()
	admin, member := c.hosts[0].node, c.hosts[1].node
	st := member.keys.member.State()
	if ans := admin.answerKeyRequest([]byte("junk")); ans != nil {
		t.Fatal("answered junk")
	}
	other := keyRequest{cluster: keydist.ClusterID{1}, node: member.keys.pub}
	if ans := admin.answerKeyRequest(other.encode()); ans != nil {
		t.Fatal("answered a request for another cluster")
	}
	priv, err := keydist.NewNodePrivate(crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	stranger := priv.Public()
	if ans := admin.answerKeyRequest(keyRequest{cluster: st.ClusterID, node: stranger}.encode()); ans != nil {
		t.Fatal("sealed keys to a key no member holds")
	}
	if ans := admin.answerKeyRequest(keyRequest{cluster: st.ClusterID, node: member.keys.pub, seq: st.Seq}.encode()); ans != nil {
		t.Fatal("answered a member that holds the newest grant")
	}
	ans := admin.answerKeyRequest(keyRequest{cluster: st.ClusterID, node: member.keys.pub}.encode())
	rec, err := keydist.DecodeKeyRecord(ans)
	if err != nil || !rec.Has(member.keys.pub) || rec.Seq != st.Seq {
		t.Fatalf("answer to a member behind: %v (seq %d, want %d)", err, rec.Seq, st.Seq)
	}
	if got := admin.catchUpRefused.Load(); got != 3 {
		t.Fatalf("catchUpRefused = %d, want 3 (junk, other cluster, stranger)", got)
	}
	if !bytes.Equal(keyRequest{cluster: st.ClusterID, node: member.keys.pub, seq: 7}.encode()[4:20], st.ClusterID[:]) {
		t.Fatal("request layout")
	}
}

// FuzzKeyRequest: any bytes either decode to a request that encodes back to
// the same bytes, or are refused; nothing panics.
func FuzzKeyRequest(f *testing.F) {
	f.Add(keyRequest{cluster: keydist.ClusterID{1}, node: keydist.NodePublicFromRaw32([32]byte{2}), seq: 3}.encode())
	f.Add([]byte("mnk1"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeKeyRequest(b)
		if err != nil {
			return
		}
		if !bytes.Equal(r.encode(), b) {
			t.Fatalf("decode/encode changed %x", b)
		}
	})
}
