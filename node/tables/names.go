package tables

import (
	"regexp"

	"meshnet.dev/meshnet/gossip"
)

// Gossip tables meshnet uses. Networks, grants, evictions, services,
// removals and static peers are cluster-scope; the others live in each
// network's scope.
const (
	Networks  = "networks"  // network definitions
	Endpoints = "endpoints" // (IP, MAC) behind the owner
	IPAM      = "ipam"      // address blocks claimed
	// Grants are keyed by the recipient's public key and owned by the
	// admin node that issued them; evictions by the evicted node's key.
	Grants    = "grants"
	Evictions = "evictions"
	// Service definitions and removals are cluster-wide; backends live in
	// their service's network and are owned by the node that hosts them,
	// which alone health-checks them.
	Services = "services"
	Removals = "service_removals"
	Backends = "backends"
	// StaticPeers are cluster-scope, keyed by peer name and owned by each
	// node whose config lists the peer (static.go).
	StaticPeers = "static_peers"
)

var labelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// validName reports whether a network name from the network is a DNS
// label, as config requires of names people write.
func validName(s string) bool { return labelRE.MatchString(s) }

// Live reports whether a member counts as present: alive, or suspected but
// not yet declared failed.
func Live(m gossip.Member) bool {
	return m.State == gossip.StateAlive || m.State == gossip.StateSuspect
}
