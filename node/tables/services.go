package tables

import (
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"strings"

	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/lb"
)

// SvcDef is a service definition as stored in the services table. Like a
// network definition it is republished by every node on the service's
// network, so it outlives its creator; Origin and OriginLTime name the
// original creation, which settles conflicts and identifies it for removal.
type SvcDef struct {
	lb.Service
	Origin      string `json:"origin"`
	OriginLTime uint64 `json:"origin_ltime"`

	// Owner is the gossip entry's owner, set by DecodeSvc (not sent).
	Owner string `json:"-"`
}

// SvcRemoval marks one service definition (by its origin) as removed.
type SvcRemoval struct {
	Origin      string `json:"origin"`
	OriginLTime uint64 `json:"origin_ltime"`
}

// maxSvcBytes bounds a definition, removal or backend value from the
// network.
const maxSvcBytes = 4096

var errBadService = errors.New("malformed service definition")

// DecodeSvc parses a services table entry from the network.
func DecodeSvc(e gossip.Entry) (SvcDef, error) {
	var d SvcDef
	if len(e.Value) > maxSvcBytes || json.Unmarshal(e.Value, &d) != nil || d.Name != e.Key || d.Origin == "" ||
		lb.ValidateName(d.Name) != nil || len(d.Ports) == 0 || (d.Mode != lb.ModeVIP && d.Mode != lb.ModeDNSRR) {
		return d, errBadService
	}
	if d.OriginLTime == 0 {
		if d.Origin != e.Owner {
			return d, errBadService
		}
		d.OriginLTime = e.LTime
	}
	d.Owner = e.Owner
	return d, nil
}

// Encode is the definition as published.
func (d SvcDef) Encode() ([]byte, error) { return json.Marshal(d) }

// Removal is the record that removes d.
func (d SvcDef) Removal() SvcRemoval { return SvcRemoval{d.Origin, d.OriginLTime} }

// Encode is the removal as published.
func (r SvcRemoval) Encode() []byte {
	b, _ := json.Marshal(r) // two plain fields: cannot fail
	return b
}

func (d SvcDef) before(o SvcDef) bool {
	if d.OriginLTime != o.OriginLTime {
		return d.OriginLTime < o.OriginLTime
	}
	return d.Origin < o.Origin
}

func (d SvcDef) sameOrigin(o SvcDef) bool {
	return d.Origin == o.Origin && d.OriginLTime == o.OriginLTime
}

// ServiceConflict is a definition that lost its name or its VIP to an
// earlier one.
type ServiceConflict struct {
	Loser, Winner SvcDef
}

// ServiceSet is the cluster's services as resolved from gossip.
type ServiceSet struct {
	// Won holds the live service of each name, its VNI filled in from its
	// network's definition.
	Won map[string]SvcDef
	// Lost are definitions that lost their name or VIP.
	Lost []ServiceConflict
	// Removed are definitions still published although removed; their
	// owners withdraw them.
	Removed []SvcDef
}

// ResolveServices reads the services and removals tables: the earliest
// creation wins a name and a VIP on a network, removed services are left
// out, and so are services on networks the cluster does not define.
func ResolveServices(services, removals []gossip.Entry, nets map[string]NetDef) ServiceSet {
	removed := map[SvcRemoval]bool{}
	for _, e := range removals {
		var r SvcRemoval
		if len(e.Value) <= maxSvcBytes && json.Unmarshal(e.Value, &r) == nil {
			removed[r] = true
		}
	}
	var set ServiceSet
	var defs []SvcDef
	for _, e := range services {
		d, err := DecodeSvc(e)
		if err != nil {
			continue
		}
		if removed[d.Removal()] {
			set.Removed = append(set.Removed, d)
			continue
		}
		nd, ok := nets[d.Network]
		if !ok {
			continue
		}
		d.VNI = nd.VNI
		defs = append(defs, d)
	}
	slices.SortFunc(defs, func(a, b SvcDef) int {
		switch {
		case a.before(b):
			return -1
		case b.before(a):
			return 1
		}
		return 0
	})
	set.Won = map[string]SvcDef{}
	vips := map[netip.Addr]SvcDef{}
	for _, d := range defs {
		if w, ok := set.Won[d.Name]; ok {
			if !w.sameOrigin(d) {
				set.Lost = append(set.Lost, ServiceConflict{d, w})
			}
			continue
		}
		if d.VIP.IsValid() {
			if w, ok := vips[d.VIP]; ok {
				set.Lost = append(set.Lost, ServiceConflict{d, w})
				continue
			}
			vips[d.VIP] = d
		}
		set.Won[d.Name] = d
	}
	return set
}

// Services lists the live services sorted by name, as the balancer takes
// them.
func (s ServiceSet) Services() []lb.Service {
	out := make([]lb.Service, 0, len(s.Won))
	for _, d := range s.Won {
		out = append(out, d.Service)
	}
	slices.SortFunc(out, func(a, b lb.Service) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// BackendKey names a backend entry in its network's backends table.
func BackendKey(service string, addr netip.AddrPort) string { return service + "/" + addr.String() }

// BackendValue is a backend entry's value: its health as its own node sees
// it.
type BackendValue struct {
	Healthy bool `json:"healthy"`
}

// Encode is the value as published.
func (v BackendValue) Encode() []byte {
	b, _ := json.Marshal(v) // one bool: cannot fail
	return b
}

// DecodeBackends lists the backends in network def's backends table that belong
// to a live service on that network, with the health their nodes
// published.
func DecodeBackends(def NetDef, entries []gossip.Entry, services map[string]SvcDef) []lb.Backend {
	var out []lb.Backend
	for _, e := range entries {
		svc, addrText, ok := strings.Cut(e.Key, "/")
		if !ok {
			continue
		}
		d, ok := services[svc]
		if !ok || d.Network != def.Name {
			continue
		}
		addr, err := netip.ParseAddrPort(addrText)
		var v BackendValue
		if err != nil || !def.Subnet.Contains(addr.Addr()) || len(e.Value) > maxSvcBytes || json.Unmarshal(e.Value, &v) != nil {
			continue
		}
		out = append(out, lb.Backend{Service: svc, Addr: addr, Node: e.Owner, Healthy: v.Healthy})
	}
	return out
}
