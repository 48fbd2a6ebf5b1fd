package node

import (
	"bytes"
	"testing"
	"time"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/gossip/memnet"
	"meshnet.dev/meshnet/node/config"
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

// A member restarts from its state directory at new gossip and VXLAN
// addresses while the keys rotate every second, as a roaming laptop or a
// rescheduled VM would: it rejoins with the keys it has (catching up on
// those it missed), every node sees it at its new address, and frames
// reach it there. It runs under the race detector in CI, covering the
// reconciler, key sync, the control API and memberlist's node rewrite.
func TestMemberRejoinsFromANewAddressWhileKeysRotate(t *testing.T) {
	c := &fakeCluster{t: t, gossip: memnet.New(1), vxlan: encap.NewChannelNetwork(), rotation: time.Second}
	for _, name := range []string{"host1", "host2", "host3"} {
		c.start(name)
	}
	c.converged()
	oldAddr := c.hosts[2].gossip.Addr()
	epoch := c.hosts[0].node.keys.Epoch()
	moved := c.restart(2)
	if moved.gossip.Addr() == oldAddr {
		t.Fatalf("the restarted node kept its address %s", oldAddr)
	}
	addrs := c.converged()
	poll(t, 30*time.Second, "a rotation after the move reaching every node", func() bool {
		e := c.hosts[0].node.keys.Epoch()
		for _, h := range c.hosts {
			if h.node.keys.Epoch() != e {
				return false
			}
		}
		return e != epoch
	})
	for _, h := range c.hosts[:2] {
		poll(t, 30*time.Second, h.name+" seeing "+moved.name+" at its new address", func() bool {
			for _, m := range h.node.db.Members() {
				if m.Name == moved.name {
					return m.State == gossip.StateAlive && m.Addr == moved.gossip.Addr()
				}
			}
			return false
		})
		src, dst := config.InterfaceMAC(h.name, "blue"), config.InterfaceMAC(moved.name, "blue")
		f := udpFrame(dst, src, addrs[h.name], addrs[moved.name], "to the moved node from "+h.name)
		h.dev(t, "mn-blue").In <- f
		select {
		case got := <-moved.dev(t, "mn-blue").Out:
			if !bytes.Equal(got, f) {
				t.Fatalf("%s→%s: frame changed in transit", h.name, moved.name)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s→%s: frame lost after the move", h.name, moved.name)
		}
	}
}
