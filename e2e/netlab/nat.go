package netlab

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// NAT routers put hosts on a private LAN behind one public underlay
// address, as a laptop sits behind a home router. A router is a namespace
// with eth0 on the underlay bridge and a bridge named lan that its hosts'
// eth0 veths plug into; hosts behind one NAT share that LAN. Translation
// and filtering are the kernel's (nftables masquerade and conntrack), so
// the lab NATs behave like the Linux-based routers most people sit behind.
// There is no hairpinning: a host cannot reach its own NAT's public
// address from the LAN.

// NATKind is how a NAT maps a private source to a public port.
type NATKind int

const (
	// ConeNAT maps one private address:port to one public port whatever
	// the destination (endpoint-independent mapping): plain masquerade
	// keeps the private port when it is free and otherwise reuses the
	// port it gave that private address:port before. Inbound filtering is
	// conntrack's, so only the address:port a mapping was opened to can
	// answer through it (a port-restricted cone).
	ConeNAT NATKind = iota + 1
	// SymmetricNAT maps each new destination to a fresh random port
	// (endpoint-dependent mapping; masquerade fully-random).
	SymmetricNAT
)

func (k NATKind) String() string {
	switch k {
	case ConeNAT:
		return "cone"
	case SymmetricNAT:
		return "symmetric"
	}
	return fmt.Sprintf("NATKind(%d)", int(k))
}

// NAT is a router namespace with a public address on the lab's underlay
// bridge and a private LAN behind it.
type NAT struct {
	Name   string
	NS     string       // the router's namespace
	Public netip.Addr   // its address on the underlay, eth0
	LAN    netip.Prefix // the private subnet; the router is its first address
	Kind   NATKind
	Router *Host // the router namespace, to run commands or capture in

	next netip.Addr // next LAN address to hand out, under the lab's mu
}

// Gateway is the router's address on its LAN.
func (n *NAT) Gateway() netip.Addr { return n.LAN.Addr().Next() }

// natTable is the nftables table of a NAT router.
const natTable = "mnnat"

// natRules is the router's ruleset. Unsolicited inbound traffic is dropped
// silently, as home routers do, rather than answered with ICMP errors a
// test could mistake for a reachable peer; the drops are counted (Blocked).
func natRules(kind NATKind, lan netip.Prefix) string {
	masq := "masquerade"
	if kind == SymmetricNAT {
		masq = "masquerade fully-random"
	}
	return fmt.Sprintf(`table ip %[1]s {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "eth0" %[2]s
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		iifname "lan" ip saddr != %[3]s counter drop comment "spoofed"
		ct state established,related accept
		iifname "lan" oifname "eth0" accept
		iifname "eth0" counter drop comment "unsolicited"
	}
	chain input {
		type filter hook input priority filter; policy accept;
		iifname "eth0" ct state established,related accept
		iifname "eth0" icmp type echo-request accept
		iifname "eth0" counter drop comment "unsolicited"
	}
}
`, natTable, masq, lan)
}

// AddNAT creates a NAT router: eth0 on the underlay bridge with the next
// lab address (as AddHost gives), forwarding on, and an empty private LAN,
// 172.16.<n>.0/24 with the router at .1. The LANs stay clear of 10/8,
// where the tests put their overlay networks: a LAN route on a host must
// not shadow its overlay's.
func (l *Lab) AddNAT(name string, kind NATKind) (*NAT, error) {
	if kind != ConeNAT && kind != SymmetricNAT {
		return nil, fmt.Errorf("NAT %s: unknown kind %d", name, int(kind))
	}
	if err := os.MkdirAll(filepath.Join(l.Dir, name), 0o755); err != nil {
		return nil, err
	}
	// The address, LAN and uplink name are taken under one lock with the
	// NAT joining the lab's list, so NATs added at once never share them.
	l.mu.Lock()
	lan, err := l.freeLAN()
	if err != nil {
		l.mu.Unlock()
		return nil, fmt.Errorf("NAT %s: %w", name, err)
	}
	addr := l.nextAddr
	l.nextAddr = addr.Next()
	r := &Host{lab: l, Name: name, NS: l.Prefix + "-" + name, Addr: addr,
		Dir: filepath.Join(l.Dir, name), uplink: fmt.Sprintf("n%d", l.natLinks)}
	l.natLinks++
	n := &NAT{Name: name, NS: r.NS, Public: addr, LAN: lan, Kind: kind, Router: r,
		next: lan.Addr().Next().Next()}
	l.nats = append(l.nats, n)
	l.mu.Unlock()
	if err := l.run("ip", "netns", "add", r.NS); err != nil {
		// Nothing for Close to remove; the LAN is free again.
		l.mu.Lock()
		for i, o := range l.nats {
			if o == n {
				l.nats = append(l.nats[:i], l.nats[i+1:]...)
				break
			}
		}
		l.mu.Unlock()
		return nil, err
	}
	gw := netip.PrefixFrom(n.Gateway(), lan.Bits())
	// The lan bridge gets a fixed MAC: a bridge otherwise takes its
	// lowest port's, which changes as hosts join and leave, and the hosts'
	// ARP entries for the gateway would go stale.
	mac := fmt.Sprintf("02:6d:6e:00:%02x:01", lan.Addr().As4()[2])
	steps := [][]string{
		{"ip", "-n", r.NS, "link", "set", "lo", "up"},
		{"ip", "-n", l.underlay(), "link", "add", r.uplink, "type", "veth", "peer", "name", "eth0", "netns", r.NS},
		{"ip", "-n", l.underlay(), "link", "set", r.uplink, "master", "br0", "up"},
		{"ip", "-n", r.NS, "addr", "add", netip.PrefixFrom(addr, l.Subnet.Bits()).String(), "dev", "eth0"},
		{"ip", "-n", r.NS, "link", "set", "eth0", "up"},
		{"ip", "-n", r.NS, "link", "add", "lan", "address", mac, "type", "bridge"},
		{"ip", "-n", r.NS, "addr", "add", gw.String(), "dev", "lan"},
		{"ip", "-n", r.NS, "link", "set", "lan", "up"},
		{"ip", "netns", "exec", r.NS, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"},
	}
	for _, s := range steps {
		if err := l.run(s...); err != nil {
			return nil, err
		}
	}
	if err := l.nft(r.NS, natRules(kind, lan)); err != nil {
		return nil, err
	}
	return n, nil
}

// freeLAN picks the first 172.16.<n>.0/24 no other NAT of the lab holds
// and the underlay does not overlap. The caller holds l.mu.
func (l *Lab) freeLAN() (netip.Prefix, error) {
next:
	for i := 1; i < 256; i++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(i), 0}), 24)
		if p.Overlaps(l.Subnet) {
			continue
		}
		for _, n := range l.nats {
			if n.LAN == p {
				continue next
			}
		}
		return p, nil
	}
	return netip.Prefix{}, errors.New("no free LAN subnet in 172.16.0.0/16")
}

// AddHostBehind creates a host whose only link, eth0, is a veth into the
// NAT's LAN, with the LAN's next address and a default route via the
// router. It is a Host like AddHost's, except that its Addr is private and
// its Uplink is the veth's end on the router's lan bridge, in the router's
// namespace. Close removes it.
func (l *Lab) AddHostBehind(n *NAT, name string) (*Host, error) {
	h := &Host{lab: l, Name: name, NS: l.Prefix + "-" + name, Dir: filepath.Join(l.Dir, name)}
	if err := os.MkdirAll(h.Dir, 0o755); err != nil {
		return nil, err
	}
	if err := l.run("ip", "netns", "add", h.NS); err != nil {
		return nil, err
	}
	// Known to the lab from here on, so Close removes it.
	l.mu.Lock()
	l.hosts = append(l.hosts, h)
	l.mu.Unlock()
	if err := l.run("ip", "-n", h.NS, "link", "set", "lo", "up"); err != nil {
		return nil, err
	}
	if err := l.plugInto(n, h); err != nil {
		return nil, err
	}
	return h, nil
}

// Move re-homes h behind another NAT, as a laptop changes networks: its
// eth0 goes (with its address and routes, and the veth's end in the old
// router) and a new eth0 comes up in to's LAN with a new address and a
// default route via to. h.Addr and h.Uplink follow. Processes in h keep
// running and see their interface go and come back. h may also be a host
// on the underlay (AddHost), which then leaves it.
func (l *Lab) Move(h *Host, to *NAT) error {
	// Deleting either end removes the pair.
	if err := l.run("ip", "-n", h.NS, "link", "del", "eth0"); err != nil {
		return fmt.Errorf("moving %s behind %s: %w", h.Name, to.Name, err)
	}
	if err := l.plugInto(to, h); err != nil {
		return fmt.Errorf("moving %s behind %s: %w", h.Name, to.Name, err)
	}
	return nil
}

// plugInto gives h an eth0 on n's LAN with the LAN's next address. Each
// address is handed out once, so a host that moves never finds a stale
// ARP entry for its new address in the router.
func (l *Lab) plugInto(n *NAT, h *Host) error {
	l.mu.Lock()
	addr := n.next
	n.next = addr.Next()
	peer := fmt.Sprintf("port%d", l.natLinks)
	l.natLinks++
	l.mu.Unlock()
	if !n.LAN.Contains(addr.Next()) { // addr is the broadcast address or past it
		return fmt.Errorf("NAT %s: LAN %s is full", n.Name, n.LAN)
	}
	steps := [][]string{
		{"ip", "-n", n.NS, "link", "add", peer, "type", "veth", "peer", "name", "eth0", "netns", h.NS},
		{"ip", "-n", n.NS, "link", "set", peer, "master", "lan", "up"},
		{"ip", "-n", h.NS, "addr", "add", netip.PrefixFrom(addr, n.LAN.Bits()).String(), "dev", "eth0"},
		{"ip", "-n", h.NS, "link", "set", "eth0", "up"},
		{"ip", "-n", h.NS, "route", "add", "default", "via", n.Gateway().String()},
	}
	for _, s := range steps {
		if err := l.run(s...); err != nil {
			return err
		}
	}
	h.Addr, h.uplink = addr, peer
	return nil
}

// Blocked reports how many unsolicited packets from the underlay the NAT
// dropped so far: to its public address with no mapping, or addressed
// straight to its LAN.
func (n *NAT) Blocked() (uint64, error) { return n.counter("unsolicited") }

// counter sums the counters of the router's rules with the given comment.
func (n *NAT) counter(comment string) (uint64, error) {
	out, err := runOutput("ip", "netns", "exec", n.NS, "nft", "list", "table", "ip", natTable)
	if err != nil {
		return 0, err
	}
	var sum uint64
	for _, line := range strings.Split(out, "\n") {
		i := strings.Index(line, "counter packets ")
		if i < 0 || !strings.Contains(line, `comment "`+comment+`"`) {
			continue
		}
		var pkts, bytes uint64
		if _, err := fmt.Sscanf(line[i:], "counter packets %d bytes %d", &pkts, &bytes); err != nil {
			return 0, fmt.Errorf("NAT %s: reading %q: %w", n.Name, line, err)
		}
		sum += pkts
	}
	return sum, nil
}
