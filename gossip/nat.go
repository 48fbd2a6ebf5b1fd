package gossip

import (
	"cmp"
	"net/netip"
	"slices"
	"time"
)

// Mapping says how this node's gossip socket appears to other members:
// whether a NAT stands between them and, if so, how it picks public ports.
type Mapping string

const (
	// MappingUnknown: too few members have answered to tell.
	MappingUnknown Mapping = "unknown"
	// MappingNone: members see the address this node advertises, so
	// nothing translates it and they reach it directly.
	MappingNone Mapping = "none"
	// MappingIndependent: a NAT maps the socket to one public address and
	// port whoever it sends to (endpoint-independent, a "cone" NAT).
	// Members can reach it there once it has sent to them.
	MappingIndependent Mapping = "endpoint-independent"
	// MappingDependent: a NAT maps the socket to a new public port for
	// every member it sends to (endpoint-dependent, a "symmetric" NAT).
	// No member can learn in advance where to send to it.
	MappingDependent Mapping = "endpoint-dependent"
)

// Observation is one member's answer to "where do my packets come from?".
type Observation struct {
	Observer netip.AddrPort // the member's gossip address, which answered
	Mapped   netip.AddrPort // where it saw this node's packet come from
	At       time.Time
}

// NATReport is what this node has learnt about its own reachability.
type NATReport struct {
	Mapping Mapping
	// BehindNAT: some member saw this node at an address other than the
	// one it advertises. Known as soon as one member answered.
	BehindNAT bool
	// Local is the gossip address this node advertises.
	Local netip.AddrPort
	// Public is where members see it when they agree (endpoint-independent
	// or none); invalid otherwise.
	Public netip.AddrPort
	// Observations are the latest answer of each member asked, by
	// observer address.
	Observations []Observation
}

// classifyNAT judges the mapping from the members' answers. Telling a
// cone from a symmetric NAT needs answers from two members at different
// addresses: a NAT that maps per destination gives each a different port.
func classifyNAT(local netip.AddrPort, obs []Observation) NATReport {
	r := NATReport{Mapping: MappingUnknown, Local: local, Observations: slices.Clone(obs)}
	slices.SortFunc(r.Observations, func(a, b Observation) int { return cmp.Compare(a.Observer.String(), b.Observer.String()) })
	var translated []Observation // answers that saw another address
	for _, o := range r.Observations {
		if o.Mapped != local {
			translated = append(translated, o)
		}
	}
	switch {
	case len(r.Observations) == 0:
		return r
	case len(translated) == 0:
		r.Mapping, r.Public = MappingNone, local
		return r
	}
	r.BehindNAT = true
	observers := map[netip.Addr]bool{}
	same := true
	for _, o := range translated {
		observers[o.Observer.Addr()] = true
		same = same && o.Mapped == translated[0].Mapped
	}
	switch {
	case !same:
		r.Mapping = MappingDependent
	case len(observers) >= 2:
		r.Mapping, r.Public = MappingIndependent, translated[0].Mapped
	}
	return r
}
