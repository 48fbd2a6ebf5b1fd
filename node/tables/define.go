package tables

import (
	"fmt"
	"net/netip"
	"slices"
)

// NewDef makes the definition of a new network created by origin, given the
// definitions that won in the cluster: VNI 0 picks a free one, a VNI
// another network holds is an error.
func NewDef(name string, subnet netip.Prefix, vni uint32, encrypted bool, origin string, won map[string]NetDef) (NetDef, error) {
	used := func(v uint32) bool {
		for _, d := range won {
			if d.VNI == v {
				return true
			}
		}
		return false
	}
	if vni == 0 {
		vni = autoVNI(name, used)
	} else if used(vni) {
		return NetDef{}, fmt.Errorf("VNI %d is already used by another network", vni)
	}
	return NetDef{Name: name, VNI: vni, Subnet: subnet, Encrypted: encrypted, Origin: origin}, nil
}

// String says what conflicts with what, for people.
func (c DefConflict) String() string {
	return fmt.Sprintf("network %q (vni %d, %s) defined by %s conflicts with network %q (vni %d, %s) defined earlier by %s",
		c.Loser.Name, c.Loser.VNI, c.Loser.Subnet, c.Loser.Origin, c.Winner.Name, c.Winner.VNI, c.Winner.Subnet, c.Winner.Origin)
}

// ConflictReport lists every conflict once, sorted, for people.
func ConflictReport(lost []DefConflict) []string {
	var out []string
	for _, c := range lost {
		out = append(out, c.String())
	}
	slices.Sort(out)
	return slices.Compact(out)
}
