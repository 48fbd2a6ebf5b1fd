package tables

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/gossip"
)

// NetDef is a network definition as stored in the cluster-scope networks
// table. Every node attached to a network republishes the definition under
// its own name, so it outlives its creator; Origin and OriginLTime always
// name the original creation, which decides conflicts.
type NetDef struct {
	Name      string       `json:"name"`
	VNI       uint32       `json:"vni"`
	Subnet    netip.Prefix `json:"subnet"`
	Encrypted bool         `json:"encrypted"`
	// Origin is the node that created the network; OriginLTime the Lamport
	// time of its entry. Zero in the creator's own entry: the entry's own
	// time is meant.
	Origin      string `json:"origin"`
	OriginLTime uint64 `json:"origin_ltime"`

	// Owner is the gossip entry's owner, set by DecodeDef (not sent).
	Owner string `json:"-"`
}

// SameNetwork reports whether two definitions describe the same network, so
// that nodes defining it identically from their configs never conflict.
func (d NetDef) SameNetwork(o NetDef) bool {
	return d.Name == o.Name && d.VNI == o.VNI && d.Subnet == o.Subnet && d.Encrypted == o.Encrypted
}

// maxDefBytes bounds a definition from the network.
const maxDefBytes = 1024

var errBadDef = errors.New("malformed network definition")

// DecodeDef parses a networks table entry from the network.
func DecodeDef(e gossip.Entry) (NetDef, error) {
	var d NetDef
	if len(e.Value) > maxDefBytes {
		return d, errBadDef
	}
	if err := json.Unmarshal(e.Value, &d); err != nil {
		return d, fmt.Errorf("%w: %v", errBadDef, err)
	}
	if d.Name != e.Key || !validName(d.Name) || !encap.ValidVNI(d.VNI) ||
		!d.Subnet.IsValid() || d.Subnet != d.Subnet.Masked() || d.Origin == "" {
		return d, errBadDef
	}
	if d.OriginLTime == 0 {
		if d.Origin != e.Owner {
			return d, errBadDef
		}
		d.OriginLTime = e.LTime
	}
	d.Owner = e.Owner
	return d, nil
}

// Encode is the definition as published; the owner is the entry's own.
func (d NetDef) Encode() ([]byte, error) { return json.Marshal(d) }

// before orders definitions by their original creation: the earlier wins.
func (d NetDef) before(o NetDef) bool {
	if d.OriginLTime != o.OriginLTime {
		return d.OriginLTime < o.OriginLTime
	}
	return d.Origin < o.Origin
}

// DefConflict is a definition that lost to another one with the same name
// or VNI.
type DefConflict struct {
	Loser, Winner NetDef
}

// ResolveDefs picks, from every definition in the cluster, the winning
// definition per name, deterministically on every node: the earliest
// creation wins a name, and a VNI belongs to the earliest network that
// claims it. Losers are returned so their creators can be told.
func ResolveDefs(defs []NetDef) (map[string]NetDef, []DefConflict) {
	defs = slices.Clone(defs)
	slices.SortFunc(defs, func(a, b NetDef) int {
		switch {
		case a.before(b):
			return -1
		case b.before(a):
			return 1
		}
		return 0
	})
	won := map[string]NetDef{}
	vnis := map[uint32]NetDef{}
	var lost []DefConflict
	for _, d := range defs {
		if w, ok := won[d.Name]; ok {
			if !w.SameNetwork(d) {
				lost = append(lost, DefConflict{d, w})
			}
			continue
		}
		if w, ok := vnis[d.VNI]; ok && !w.SameNetwork(d) {
			lost = append(lost, DefConflict{d, w})
			continue
		}
		won[d.Name], vnis[d.VNI] = d, d
	}
	return won, lost
}

// autoVNI picks a VNI for a new network: a hash of its name above the range
// people tend to pick by hand, moved on past VNIs already in use.
func autoVNI(name string, used func(uint32) bool) uint32 {
	const low = 1 << 16
	h := fnv.New32a()
	h.Write([]byte(name))
	v := low + h.Sum32()%(encap.MaxVNI-low)
	for used(v) {
		v++
		if v > encap.MaxVNI {
			v = low
		}
	}
	return v
}
