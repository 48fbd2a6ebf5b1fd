package node

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/node/api"
	"meshnet.dev/meshnet/tun"

	"meshnet.dev/meshnet/node/tables"
)

// Doctor checks what commonly breaks and says what to do about each
// finding: the device and privileges, reaching every peer's gossip and
// WireGuard ports, the path MTU towards each peer against what the
// networks need, clock skew, key epochs, duplicate addresses and
// conflicting definitions. It probes actively (a fresh WireGuard handshake
// and DF-marked pings per peer), so it takes a few seconds.
func (n *Node) Doctor() []api.Check {
	var out []api.Check
	add := func(c api.Check) { out = append(out, c) }
	add(n.checkDevice())
	if !n.spec.Userspace {
		add(checkCloneMode(tun.StatClone()))
	}
	members := n.db.Members()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, m := range members {
		if m.Name == n.spec.Name {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cs := n.checkPeer(m)
			mu.Lock()
			out = append(out, cs...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	rep := n.current().report
	if len(rep.duplicates) == 0 {
		add(api.Check{Name: "duplicate addresses", Status: "ok", Detail: "every address is held by one endpoint"})
	}
	for _, d := range rep.duplicates {
		add(api.Check{Name: "duplicate address " + d.IP, Status: "fail",
			Detail: fmt.Sprintf("%s on %s is used by %s and also claimed by %s", d.IP, d.Network, d.Winner, strings.Join(d.Losers, ",")),
			Fix:    "give the later endpoints other addresses (static addresses must be unique; IPAM never reuses one)"})
	}
	for _, c := range rep.conflicts {
		add(api.Check{Name: "network definitions", Status: "warn", Detail: c, Fix: "remove or rename the losing definition"})
	}
	for _, w := range rep.waiting {
		add(api.Check{Name: "network " + w, Status: "warn", Detail: "this node wants network " + w + " but nobody has defined it",
			Fix: "meshnet network create " + w + " --subnet CIDR (on any node)"})
	}
	for _, w := range rep.keyless {
		add(api.Check{Name: "network " + w, Status: "warn", Detail: "encrypted network " + w + " waits for this node's cluster keys",
			Fix: "make sure the admin node runs and reaches this node; a node that was evicted needs a new identity and token"})
	}
	slices.SortStableFunc(out, func(a, b api.Check) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// checkDevice reports the device mode and whether the node has what it
// needs for it.
func (n *Node) checkDevice() api.Check {
	c := api.Check{Name: "device", Status: "ok"}
	switch {
	case n.spec.Userspace:
		c.Detail = "userspace stacks: no TAP/TUN and no privileges needed"
	default:
		f, err := os.OpenFile(tun.CloneDevice, os.O_RDWR, 0)
		if err != nil {
			c.Status, c.Detail = "fail", "cannot open /dev/net/tun: "+err.Error()
			c.Fix = "load the tun module (modprobe tun), or run with --userspace"
			return c
		}
		f.Close()
		c.Detail = fmt.Sprintf("%s devices via /dev/net/tun, running as uid %d with CAP_NET_ADMIN %s", n.modeName(), os.Getuid(), yesno(hasNetAdmin()))
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
func (n *Node) checkPeer(m gossip.Member) []api.Check {
	var out []api.Check
	name := m.Name
	if m.State != gossip.StateAlive && m.State != gossip.StateSuspect {
		return []api.Check{{Name: "peer " + name, Status: "fail", Detail: fmt.Sprintf("%s is %s (gossip %s)", name, m.State, m.Addr),
			Fix: "check the node is running and that TCP and UDP " + fmt.Sprint(m.Addr.Port()) + " reach it"}}
	}
	out = append(out, api.Check{Name: "peer " + name + " gossip", Status: "ok", Detail: "alive at " + m.Addr.String()})
	meta, err := tables.DecodeMeta(m.Meta)
	if err != nil {
		return append(out, api.Check{Name: "peer " + name, Status: "warn", Detail: "its metadata is unreadable (an older or newer meshnet?)"})
	}
	if ws, ok := n.secure.(wgProber); ok && meta.WG.IsValid() && !meta.Key.IsZero() {
		c := api.Check{Name: "peer " + name + " wireguard"}
		rtt, err := ws.ProbePeer(meta.Key.Raw32(), 5*time.Second)
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
	out = append(out, n.checkMTU(name, meta))
	if skew, ok := n.db.ClockSkew(name); ok {
		c := api.Check{Name: "peer " + name + " clock", Status: "ok", Detail: fmt.Sprintf("clock differs by %s", skew.Round(time.Millisecond))}
		if a := time.Duration(math.Abs(float64(skew))); a > 5*time.Minute {
			c.Status, c.Fix = "fail", "set the clocks right (NTP): join tokens and key records carry times"
		} else if a > 30*time.Second {
			c.Status, c.Fix = "warn", "run NTP on both nodes"
		}
		out = append(out, c)
	}
	if own := n.keys.Epoch(); meta.Epoch != own && !meta.Key.IsZero() {
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
func (n *Node) checkMTU(name string, meta tables.Meta) api.Check {
	c := api.Check{Name: "peer " + name + " path MTU"}
	dst := meta.VXLAN.Addr()
	upper := n.underlayMTU()
	if v, err := n.links.RouteMTU(dst); err == nil && v > 0 {
		upper = v
	}
	mtu, err := pathMTU(dst, upper)
	if err != nil {
		c.Status, c.Detail = "skip", err.Error()
		return c
	}
	var worst netView
	need, over := 0, 0
	for _, a := range n.current().nets {
		o := overheadPlain4
		if a.def.Encrypted {
			o = overheadEncrypted4
		}
		if dst.Is6() {
			o += 20
		}
		if a.mtu+o > need {
			worst, need, over = a, a.mtu+o, o
		}
	}
	c.Status, c.Detail = "ok", fmt.Sprintf("path MTU to %s is %d", dst, mtu)
	if need > mtu {
		c.Status = "fail"
		c.Detail += fmt.Sprintf("; network %s uses MTU %d, which with %d bytes of encapsulation needs %d", worst.def.Name, worst.mtu, over, need)
		c.Fix = fmt.Sprintf("fix the path's MTU, or set mtu: %d on network %s (large packets are lost until then)", mtu-over, worst.def.Name)
	}
	return c
}

// wgProber is what the doctor needs of the encrypted transport.
type wgProber interface {
	ProbePeer(pub [32]byte, timeout time.Duration) (time.Duration, error)
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
