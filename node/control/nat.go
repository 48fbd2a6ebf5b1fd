package control

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/node/api"
)

// Reachability turns what members see of this node into the status
// API's form, with a sentence a person can act on.
func Reachability(r gossip.NATReport, now time.Time) *api.Reachability {
	out := &api.Reachability{NAT: string(r.Mapping), BehindNAT: r.BehindNAT, Advertised: addrOrNone(r.Local.String(), r.Local.IsValid())}
	if r.Public.IsValid() {
		out.Public = r.Public.String()
	}
	for _, o := range r.Observations {
		out.Observers = append(out.Observers, api.Observer{Member: o.Observer.String(), Saw: o.Mapped.String(),
			AgeSeconds: int64(now.Sub(o.At).Seconds())})
	}
	out.Summary = natSummary(r)
	return out
}

func addrOrNone(s string, ok bool) string {
	if !ok {
		return ""
	}
	return s
}

func natSummary(r gossip.NATReport) string {
	var seen []string
	for _, o := range r.Observations {
		seen = append(seen, o.Mapped.String())
	}
	switch r.Mapping {
	case gossip.MappingNone:
		return fmt.Sprintf("reachable directly: members see this node at its own address %s", r.Local)
	case gossip.MappingIndependent:
		return fmt.Sprintf("behind a NAT that keeps one public address for every peer (endpoint-independent, a \"cone\" NAT): members see this node at %s", r.Public)
	case gossip.MappingDependent:
		return fmt.Sprintf("behind a NAT that gives every peer its own public port (endpoint-dependent, a \"symmetric\" NAT): members see this node at %s", strings.Join(seen, ", "))
	}
	if r.BehindNAT {
		return fmt.Sprintf("behind a NAT: a member sees this node at %s; a second member's answer tells which kind", strings.Join(seen, ", "))
	}
	return "not known yet: no member has said where this node's packets come from"
}

// checkReachability is the doctor's finding on NAT. advertised is the
// gossip address members are told to use.
func checkReachability(r gossip.NATReport, advertised netip.AddrPort) api.Check {
	c := api.Check{Name: "reachability", Detail: natSummary(r)}
	switch {
	case r.Mapping == gossip.MappingNone:
		c.Status = "ok"
	case r.Mapping == gossip.MappingIndependent && r.Public == advertised:
		c.Status = "ok"
		c.Detail += "; this node advertises that address and keeps the NAT's mapping towards every member open"
	case r.Mapping == gossip.MappingIndependent:
		c.Status = "warn"
		c.Detail += fmt.Sprintf("; but this node advertises %s", advertised)
		c.Fix = "restart the node: it asks its seeds for its public address as it starts (or set underlay.address to the public address)"
	case r.Mapping == gossip.MappingDependent:
		c.Status = "warn"
		c.Detail += "; members cannot learn where to send to this node"
		c.Fix = "forward the gossip (UDP and TCP) and WireGuard (UDP) ports from the public address to this host, keeping their numbers, and set underlay.address to the public address; or use a network whose NAT keeps one port per socket"
	case r.BehindNAT:
		c.Status = "warn"
		c.Fix = "wait for a second member's answer (every 20 s)"
	default:
		c.Status = "warn"
		c.Fix = "wait for members to answer (every 20 s); if none ever does, check that this node reaches them (meshnet peers)"
	}
	return c
}
