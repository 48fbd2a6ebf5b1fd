package gossip

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"
)

// In a small cluster every write reaches every member by gossip alone,
// with no digest round to repair a miss.
func TestSmallClusterWritesReachEveryone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, 8, func(cfg *Config) {
			cfg.BulkSyncInterval = 1000 * time.Hour // gossip alone
		})
		c.joinAll()
		for _, n := range c.names {
			mustOK(t, c.nodes[n].JoinNetwork("blue"))
		}
		c.waitNetworkMembers("blue", c.names)
		const writes = 200
		missed := 0
		for i := range writes {
			owner := c.nodes[c.names[i%len(c.names)]]
			key := fmt.Sprint(i)
			mustOK(t, owner.Put("blue", "ep", key, []byte("v")))
			// Wait until every node has spent the event's sends (and any
			// relay's): what hasn't arrived then never will by gossip.
			waitFor(t, 10*time.Second, func() error {
				for _, d := range c.live() {
					if q := d.Stats().Queued["blue"]; q != 0 {
						return fmt.Errorf("%s still has %d events queued", d.LocalName(), q)
					}
				}
				return nil
			})
			for _, d := range c.live() {
				if len(d.Lookup("blue", "ep", key)) != 1 {
					missed++
					t.Logf("write %d by %s never reached %s", i, owner.LocalName(), d.LocalName())
				}
			}
		}
		if missed > 0 {
			t.Errorf("%d of %d deliveries missed", missed, writes*(len(c.names)-1))
		}
		c.stop()
	})
}
