package node

import (
	"net/netip"
	"sync"
	"testing"
)

// The control API reads what the reconciler is changing: every network's
// address while IPAM settles it. Status run continuously while three
// nodes settle their addresses must always see a consistent address (none
// yet, or one inside the subnet); under -race it also proves the reads
// share nothing unsynchronised with the reconciler.
func TestStatusWhileAddressesSettle(t *testing.T) {
	c := newFakeCluster(t, 3)
	subnet := netip.MustParsePrefix("10.50.0.0/24")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan string, len(c.hosts))
	for _, h := range c.hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, nw := range h.node.Status().Networks {
					if nw.Address == "" {
						continue
					}
					p, err := netip.ParsePrefix(nw.Address)
					if err != nil || !subnet.Contains(p.Addr()) || p.Bits() != subnet.Bits() {
						errs <- h.name + " reported address " + nw.Address
						return
					}
				}
			}
		}()
	}
	c.converged()
	close(stop)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
