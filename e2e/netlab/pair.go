package netlab

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
)

// AddLinkedPair creates two hosts whose eth0 interfaces are the two ends of
// one veth, with no bridge in between: the shortest path two namespaces can
// have, for measurements where the bridge would be noise. Addresses come
// from the lab's subnet as with AddHost; the hosts have no uplink. Close
// removes them like any other host, also after a partial failure here.
func (l *Lab) AddLinkedPair(nameA, nameB string) (*Host, *Host, error) {
	var hosts [2]*Host
	for i, name := range []string{nameA, nameB} {
		l.mu.Lock()
		addr := l.nextAddr
		l.nextAddr = addr.Next()
		l.mu.Unlock()
		h := &Host{lab: l, Name: name, NS: l.Prefix + "-" + name, Addr: addr, Dir: filepath.Join(l.Dir, name)}
		if err := os.MkdirAll(h.Dir, 0o755); err != nil {
			return nil, nil, err
		}
		if err := l.run("ip", "netns", "add", h.NS); err != nil {
			return nil, nil, err
		}
		// Known to the lab from here on, so Close removes it.
		l.mu.Lock()
		l.hosts = append(l.hosts, h)
		l.mu.Unlock()
		if err := l.run("ip", "-n", h.NS, "link", "set", "lo", "up"); err != nil {
			return nil, nil, err
		}
		hosts[i] = h
	}
	a, b := hosts[0], hosts[1]
	if err := l.run("ip", "link", "add", "eth0", "netns", a.NS, "type", "veth", "peer", "name", "eth0", "netns", b.NS); err != nil {
		return nil, nil, fmt.Errorf("linking %s and %s: %w", a.Name, b.Name, err)
	}
	for _, h := range hosts {
		steps := [][]string{
			{"ip", "-n", h.NS, "addr", "add", netip.PrefixFrom(h.Addr, l.Subnet.Bits()).String(), "dev", "eth0"},
			{"ip", "-n", h.NS, "link", "set", "eth0", "up"},
		}
		for _, s := range steps {
			if err := l.run(s...); err != nil {
				return nil, nil, err
			}
		}
	}
	return a, b, nil
}
