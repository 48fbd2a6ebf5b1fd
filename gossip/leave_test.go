package gossip

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/memberlist"
)

// TestLeaveKeepsToItsBudgetWhenPeersAreGone cuts a node off from every
// peer, as when its network interface vanishes, and leaves: every push
// would wait for memberlist's ten-second dial timeout, but the whole leave
// ends within its budget.
func TestLeaveKeepsToItsBudgetWhenPeersAreGone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 4, func(cfg *Config) {
			cfg.Tune = func(mc *memberlist.Config) {
				fastMemberlist(mc)
				mc.TCPTimeout = 10 * time.Second
			}
		})
		c.joinAll()
		leaver := c.names[0]
		for _, n := range c.names {
			mustOK(t, c.nodes[n].JoinNetwork("net-1"))
		}
		c.waitNetworkMembers("net-1", c.names)
		c.net.Partition([]string{leaver}, c.names[1:])
		const budget = 2 * time.Second
		start := time.Now()
		mustOK(t, c.nodes[leaver].Leave(budget))
		if took := time.Since(start); took > budget {
			t.Fatalf("Leave(%s) with every peer gone took %s", budget, took)
		}
		c.stop()
	})
}

// TestLeaveInASmallClusterIsQuick leaves a three-node cluster whose peers
// all answer: the leave record goes to both peers and the leave ends then,
// long before its budget (a record used to stay queued for more sends
// than a small network has peers, holding the leave to its deadline).
func TestLeaveInASmallClusterIsQuick(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 3, func(cfg *Config) { cfg.Tune = fastMemberlist })
		c.joinAll()
		const budget = 5 * time.Second
		start := time.Now()
		mustOK(t, c.nodes[c.names[0]].Leave(budget))
		if took := time.Since(start); took > budget/2 {
			t.Fatalf("Leave(%s) in a healthy three-node cluster took %s", budget, took)
		}
		c.stop()
	})
}
