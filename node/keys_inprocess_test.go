package node

import (
	"testing"
	"time"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/gossip/memnet"
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
	seen := map[uint64]bool{admin.keys.Epoch(): true}
	poll(t, 30*time.Second, "three rotations during the cut", func() bool {
		seen[admin.keys.Epoch()] = true
		return len(seen) > 3
	})
	c.gossip.Heal()
	poll(t, 60*time.Second, "host3 back on the current keys and in the cluster", func() bool {
		return away.keys.Epoch() == admin.keys.Epoch() && allAlive(c)
	})
	c.converged()
	// Rotations go on every second, so once back host3 may itself answer
	// a member that fell one behind; what matters is that it was answered.
	applied, served1, served2 := away.keys.Status().Applied, admin.keys.Status().Served, c.hosts[1].node.keys.Status().Served
	if applied == 0 || served1+served2 == 0 {
		t.Fatalf("host3 came back without a catch-up answer: it applied %d catch-up grants; host1 and host2 served %d and %d",
			applied, served1, served2)
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
