package control

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/node/api"
	"meshnet.dev/meshnet/node/config"
	"meshnet.dev/meshnet/tun"

	"meshnet.dev/meshnet/node/tables"
)

// Doctor checks what commonly breaks and says what to do about each
// finding: the device and privileges, reaching every peer's gossip and
// WireGuard ports, the path MTU towards each peer against what the
// networks need, clock skew, key epochs, duplicate addresses and
// conflicting definitions. It probes actively (a fresh WireGuard handshake
// and DF-marked pings per peer), so it takes a few seconds.
func Doctor(n Node) []api.Check {
	s := n.State()
	var out []api.Check
	add := func(c api.Check) { out = append(out, c) }
	add(checkDevice(s.Mode))
	if s.Mode != "userspace" {
		add(checkCloneMode(tun.StatClone()))
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, m := range s.Members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cs := checkPeer(n, &s, m)
			mu.Lock()
			out = append(out, cs...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(s.Members) > 0 {
		add(checkReachability(s.NAT, netip.AddrPortFrom(s.Underlay.Addr(), uint16(s.GossipPort))))
	}
	rep := s.Report
	if len(rep.Duplicates) == 0 {
		add(api.Check{Name: "duplicate addresses", Status: "ok", Detail: "every address is held by one endpoint"})
	}
	for _, d := range rep.Duplicates {
		add(api.Check{Name: "duplicate address " + d.IP, Status: "fail",
			Detail: fmt.Sprintf("%s on %s is used by %s and also claimed by %s", d.IP, d.Network, d.Winner, strings.Join(d.Losers, ",")),
			Fix:    "give the later endpoints other addresses (static addresses must be unique; IPAM never reuses one)"})
	}
	for _, c := range rep.Conflicts {
		add(api.Check{Name: "network definitions", Status: "warn", Detail: c, Fix: "remove or rename the losing definition"})
	}
	for _, p := range rep.Static {
		add(api.Check{Name: "static peers", Status: "warn", Detail: p,
			Fix: "fix the peers entry on the nodes named (docs/TROUBLESHOOTING.md, static peers), then reload them (SIGHUP)"})
	}
	for _, w := range rep.Waiting {
		add(api.Check{Name: "network " + w, Status: "warn", Detail: "this node wants network " + w + " but nobody has defined it",
			Fix: "meshnet network create " + w + " --subnet CIDR (on any node)"})
	}
	for _, w := range rep.Keyless {
		add(api.Check{Name: "network " + w, Status: "warn", Detail: "encrypted network " + w + " waits for this node's cluster keys",
			Fix: "make sure the admin node runs and reaches this node; a node that was evicted needs a new identity and token"})
	}
	slices.SortStableFunc(out, func(a, b api.Check) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// checkDevice reports the device mode and whether the node has what it
// needs for it.
func checkDevice(mode string) api.Check {
	c := api.Check{Name: "device", Status: "ok"}
	switch {
	case mode == "userspace":
		c.Detail = "userspace stacks: no TAP/TUN and no privileges needed"
	default:
		f, err := os.OpenFile(tun.CloneDevice, os.O_RDWR, 0)
		if err != nil {
			c.Status, c.Detail = "fail", "cannot open /dev/net/tun: "+err.Error()
			c.Fix = "load the tun module (modprobe tun), or run with --userspace"
			return c
		}
		f.Close()
		c.Detail = fmt.Sprintf("%s devices via /dev/net/tun, running as uid %d with CAP_NET_ADMIN %s", mode, os.Getuid(), yesno(hasNetAdmin()))
	}
	return c
}

// checkCloneMode reports whether users can open /dev/net/tun, which
// they need for devices made for them with `meshnet device create`.
func checkCloneMode(a tun.CloneAccess, err error) api.Check {
	c := api.Check{Name: "device permissions"}
	switch {
	case err != nil:
		c.Status, c.Detail = "warn", err.Error()
	case a.Perm&0o006 == 0o006:
		c.Status, c.Detail = "ok", fmt.Sprintf("%s is mode %04o: users can open devices made for them (meshnet device create)", tun.CloneDevice, a.Perm)
	default:
		c.Status = "warn"
		c.Detail = fmt.Sprintf("%s is mode %04o: only root (or its group) can open it, so a user cannot run meshnet on a device made for them", tun.CloneDevice, a.Perm)
		c.Fix = fmt.Sprintf("if users run meshnet on their own devices: meshnet device create ... --fix-perms (or chmod 0666 %s); make install adds a udev rule that keeps it after reboot", tun.CloneDevice)
	}
	return c
}

// checkPeer checks one member: gossip, WireGuard reachability, path MTU,
// clock and key epoch.
func checkPeer(n Node, s *State, m Member) []api.Check {
	var out []api.Check
	name := m.Name
	if m.State != gossip.StateAlive && m.State != gossip.StateSuspect {
		return []api.Check{{Name: "peer " + name, Status: "fail", Detail: fmt.Sprintf("%s is %s (gossip %s)", name, m.State, m.Addr),
			Fix: "check the node is running and that TCP and UDP " + fmt.Sprint(m.Addr.Port()) + " reach it"}}
	}
	out = append(out, api.Check{Name: "peer " + name + " gossip", Status: "ok", Detail: "alive at " + m.Addr.String()})
	if m.MetaErr != nil {
		return append(out, api.Check{Name: "peer " + name, Status: "warn", Detail: "its metadata is unreadable (an older or newer meshnet?)"})
	}
	meta := m.Meta
	if s.WireGuard != nil && meta.WG.IsValid() && !meta.Key.IsZero() {
		c := api.Check{Name: "peer " + name + " wireguard"}
		rtt, err := n.ProbePeer(meta.Key.Raw32(), 5*time.Second)
		switch {
		case err == nil:
			c.Status, c.Detail = "ok", fmt.Sprintf("fresh handshake with %s in %s", meta.WG, rtt.Round(time.Microsecond))
		case errors.Is(err, encap.ErrNoHandshake):
			c.Status = "fail"
			c.Detail = fmt.Sprintf("no WireGuard handshake with %s within 5 s although gossip reaches it", meta.WG)
			c.Fix = fmt.Sprintf("UDP %d is probably blocked between the nodes: open it in both directions", meta.WG.Port())
		default:
			c.Status, c.Detail = "warn", err.Error()
		}
		out = append(out, c)
	}
	out = append(out, checkMTU(n, s, name, meta))
	if m.HasSkew {
		c := api.Check{Name: "peer " + name + " clock", Status: "ok", Detail: fmt.Sprintf("clock differs by %s", m.Skew.Round(time.Millisecond))}
		if a := time.Duration(math.Abs(float64(m.Skew))); a > 5*time.Minute {
			c.Status, c.Fix = "fail", "set the clocks right (NTP): join tokens and key records carry times"
		} else if a > 30*time.Second {
			c.Status, c.Fix = "warn", "run NTP on both nodes"
		}
		out = append(out, c)
	}
	if own := s.Keys.Epoch; meta.Epoch != own && !meta.Key.IsZero() {
		c := api.Check{Name: "peer " + name + " keys", Status: "warn", Detail: fmt.Sprintf("key epoch %d, this node %d", meta.Epoch, own)}
		if meta.Epoch == 0 {
			c.Detail += " (waiting for its first grant from an admin node)"
		}
		c.Fix = "usually settles within seconds; if it does not, the node may need a new token (meshnet token)"
		out = append(out, c)
	}
	return out
}

// checkMTU compares the path MTU towards a peer with what this node's
// networks need.
func checkMTU(n Node, s *State, name string, meta tables.Meta) api.Check {
	c := api.Check{Name: "peer " + name + " path MTU"}
	dst := meta.VXLAN.Addr()
	mtu, err := pathMTU(dst, n.RouteMTU(dst))
	if err != nil {
		c.Status, c.Detail = "skip", err.Error()
		return c
	}
	var worst Network
	need, over := 0, 0
	for _, a := range s.Networks {
		o := config.Overhead(a.Def.Encrypted, dst.Is6())
		if a.MTU+o > need {
			worst, need, over = a, a.MTU+o, o
		}
	}
	c.Status, c.Detail = "ok", fmt.Sprintf("path MTU to %s is %d", dst, mtu)
	if need > mtu {
		c.Status = "fail"
		c.Detail += fmt.Sprintf("; network %s uses MTU %d, which with %d bytes of encapsulation needs %d", worst.Def.Name, worst.MTU, over, need)
		c.Fix = fmt.Sprintf("fix the path's MTU, or set mtu: %d on network %s (large packets are lost until then)", mtu-over, worst.Def.Name)
	}
	return c
}

// hasNetAdmin reports whether the process holds CAP_NET_ADMIN.
func hasNetAdmin() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			var mask uint64
			fmt.Sscanf(strings.TrimSpace(v), "%x", &mask)
			return mask&(1<<12) != 0
		}
	}
	return false
}

func yesno(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
