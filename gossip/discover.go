package gossip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/hashicorp/memberlist"
)

// Discover asks seeds where this node's packets come from, before it
// joins, from a socket on the gossip port bind (so a NAT maps it as it
// will map gossip): a node behind a NAT learns the public address to
// advertise, which memberlist fixes when it starts. self is this host's
// own address and the gossip port, which the requests carry. It returns the
// answers that arrived within timeout, or as soon as enough have (at most
// one per seed). keys and primary are the gossip keyring; seeds answer
// only members.
func Discover(bind, self netip.AddrPort, keys [][]byte, primary int, seeds []netip.AddrPort, enough int, timeout time.Duration) ([]Observation, error) {
	if len(keys) == 0 || primary < 0 || primary >= len(keys) {
		return nil, errors.New("gossip: discovering the public address needs the gossip keys")
	}
	ring, err := memberlist.NewKeyring(keys, keys[primary])
	if err != nil {
		return nil, fmt.Errorf("gossip: keyring: %w", err)
	}
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(bind))
	if err != nil {
		return nil, fmt.Errorf("gossip: discovering the public address from %s: %w", bind, err)
	}
	defer c.Close()
	if self.Port() == 0 {
		self = netip.AddrPortFrom(self.Addr(), c.LocalAddr().(*net.UDPAddr).AddrPort().Port())
	}
	send := func(b []byte, to netip.AddrPort) error {
		_, err := c.WriteToUDPAddrPort(b, to)
		return err
	}
	o := newObserver(observerConfig{seal: newPathSealer(ring), send: send, local: self, advertised: self,
		now: time.Now, drop: func(dropReason) {}})
	o.ask(seeds)
	deadline := time.Now().Add(timeout)
	buf := make([]byte, maxPathPacket+1)
	enough = min(enough, len(seeds))
	for len(o.current().Observations) < enough {
		if err := c.SetReadDeadline(deadline); err != nil {
			return nil, err
		}
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break
			}
			return nil, err
		}
		if n > 0 && n <= maxPathPacket {
			o.handle(buf[:n], netip.AddrPortFrom(from.Addr().Unmap(), from.Port()))
		}
	}
	return o.current().Observations, nil
}
