package tables

import (
	"slices"
	"strings"
)

// AttachPlan is what the reconciler changes so that the node is attached
// to exactly the wanted networks the cluster defines.
type AttachPlan struct {
	Detach  []string // attached networks no longer wanted or redefined
	Attach  []NetDef // wanted networks, defined, not attached (after Detach)
	Waiting []string // wanted networks nobody defines yet
	Keyless []string // wanted encrypted networks held back until this node holds keys
}

// PlanAttachments compares the wanted networks and those attached (by
// their definition when attached) with the definitions that won in the
// cluster. A network whose definition changed is detached and attached
// again. An encrypted network waits for this node's first keys: attaching
// would publish an endpoint no peer can send to yet. Every list is sorted.
func PlanAttachments(want []string, attached map[string]NetDef, won map[string]NetDef, holdsKeys bool) AttachPlan {
	var p AttachPlan
	wanted := map[string]bool{}
	for _, name := range want {
		wanted[name] = true
	}
	for name, a := range attached {
		if d, ok := won[name]; !wanted[name] || !ok || !d.SameNetwork(a) {
			p.Detach = append(p.Detach, name)
		}
	}
	for name := range wanted {
		d, defined := won[name]
		_, stays := attached[name]
		stays = stays && !slices.Contains(p.Detach, name)
		switch {
		case !defined:
			p.Waiting = append(p.Waiting, name)
		case stays:
		case d.Encrypted && !holdsKeys:
			p.Keyless = append(p.Keyless, name)
		default:
			p.Attach = append(p.Attach, d)
		}
	}
	slices.Sort(p.Detach)
	slices.Sort(p.Waiting)
	slices.Sort(p.Keyless)
	slices.SortFunc(p.Attach, func(a, b NetDef) int { return strings.Compare(a.Name, b.Name) })
	return p
}
