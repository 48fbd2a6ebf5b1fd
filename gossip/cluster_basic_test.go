package gossip

import (
	"fmt"
	"testing"
	"time"
)

func TestSmallClusterPutConverges(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.joinAll()
	for _, d := range c.live() {
		if err := d.JoinNetwork("blue"); err != nil {
			t.Fatal(err)
		}
	}
	a := c.nodes[c.names[0]]
	if err := a.Put("blue", "ep", "10.0.0.1", []byte("mac-a")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() error {
		for _, d := range c.live() {
			if v, ok := lookupValue(d, "blue", "ep", "10.0.0.1", a.LocalName()); !ok || v != "mac-a" {
				return fmt.Errorf("%s: got %q %v", d.LocalName(), v, ok)
			}
		}
		return nil
	})
}
