package node

import (
	"context"
	"net"
	"net/netip"
	"time"
)

// roamCheck is how often the node looks at which local address its
// packets leave from: a laptop that changes network is noticed within it.
const roamCheck = time.Second

// roamLoop notices when the address this host sends from changes (a
// laptop on a new network, behind a new NAT) and tells gossip and
// WireGuard at once, so members learn where the node went within a round
// trip instead of declaring it failed. Choosing the source address is a
// route lookup: nothing is sent.
func (n *Node) roamLoop(ctx context.Context) {
	defer n.loops.Done()
	last := n.sourceAddr()
	t := time.NewTicker(roamCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := n.sourceAddr()
		if !now.IsValid() || now == last {
			continue
		}
		if !last.IsValid() { // the first route to a member: nothing moved
			last = now
			continue
		}
		n.log.Info("this host's address changed; telling members where it went", "from", last, "to", now)
		last = now
		n.db.Roamed(now)
		if n.secure != nil {
			if err := n.secure.Roamed(); err != nil {
				n.log.Warn("WireGuard could not reopen its sockets after the move", "err", err)
			}
		}
	}
}

// sourceAddr is the local address packets to a member (or a seed) leave
// from; invalid when there is no route.
func (n *Node) sourceAddr() netip.Addr {
	for _, dst := range n.roamTargets() {
		if a, ok := sourceTowards(dst); ok {
			return a
		}
	}
	return netip.Addr{}
}

// sourceTowards is the local address the kernel would send from to dst
// ("ip:port"): connecting a UDP socket looks up the route and sends
// nothing.
func sourceTowards(dst string) (netip.Addr, bool) {
	c, err := net.Dial("udp", dst)
	if err != nil {
		return netip.Addr{}, false
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), true
}

// roamTargets are addresses to look up the route to: live members first.
func (n *Node) roamTargets() []string {
	var out []string
	for _, m := range n.db.Members() {
		if m.Name != n.spec.Name && m.Addr.IsValid() {
			out = append(out, m.Addr.String())
			if len(out) == 3 {
				break
			}
		}
	}
	return append(out, n.join...)
}
