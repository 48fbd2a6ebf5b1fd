package node

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync"

	"meshnet.dev/meshnet/node/api"
	"meshnet.dev/meshnet/node/config"
)

// wantedNet is a network the node wants to be on: from the config, or
// joined at run time with `meshnet network join`.
type wantedNet struct {
	config.NetworkSpec
	runtime bool // joined at run time, not from the config
}

// wanted is the set of networks the node wants to be on. The control API
// (join, leave) and Reload change it, the reconciler reads it; mu guards
// the map.
type wanted struct {
	mu   sync.Mutex
	nets map[string]wantedNet
}

// all returns a copy of the wanted networks.
func (w *wanted) all() map[string]wantedNet {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.nets)
}

// join wants network ns, joined at run time.
func (w *wanted) join(ns config.NetworkSpec) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.nets[ns.Name]; ok {
		return fmt.Errorf("already on network %q", ns.Name)
	}
	w.nets[ns.Name] = wantedNet{NetworkSpec: ns, runtime: true}
	return nil
}

// leave stops wanting network name.
func (w *wanted) leave(name string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.nets[name]; !ok {
		return fmt.Errorf("not on network %q", name)
	}
	delete(w.nets, name)
	return nil
}

// restore wants the networks joined at run time before a restart, unless
// the config names them.
func (w *wanted) restore(nets []config.NetworkSpec) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ns := range nets {
		if _, ok := w.nets[ns.Name]; !ok {
			w.nets[ns.Name] = wantedNet{NetworkSpec: ns, runtime: true}
		}
	}
}

// reload makes the config's networks wanted and forgets config networks no
// longer listed; networks joined at run time stay. It returns the names
// added (+name) and dropped (-name).
func (w *wanted) reload(nets []config.NetworkSpec) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var changed []string
	listed := map[string]bool{}
	for _, ns := range nets {
		listed[ns.Name] = true
		if old, ok := w.nets[ns.Name]; !ok || old.runtime {
			w.nets[ns.Name] = wantedNet{NetworkSpec: ns}
			if !ok {
				changed = append(changed, "+"+ns.Name)
			}
		}
	}
	for name, wn := range w.nets {
		if !wn.runtime && !listed[name] {
			delete(w.nets, name)
			changed = append(changed, "-"+name)
		}
	}
	slices.Sort(changed)
	return changed
}

// JoinNetwork attaches this node to a network, now or as soon as it is
// defined.
func (n *Node) JoinNetwork(name string, req api.JoinNetwork) error {
	if !config.ValidName(name) {
		return fmt.Errorf("network name %q: use lower-case letters, digits and '-'", name)
	}
	ns := config.NetworkSpec{Name: name, Device: config.DefaultDevice(name)}
	if req.Address != "" {
		a, err := netip.ParseAddr(req.Address)
		if err != nil {
			return fmt.Errorf("address %q: not an IP address", req.Address)
		}
		ns.Address = a
	}
	if err := n.want.join(ns); err != nil {
		return err
	}
	n.poke() // the reconciler attaches it and records it in the state file
	return nil
}

// LeaveNetwork detaches this node from a network.
func (n *Node) LeaveNetwork(name string) error {
	if err := n.want.leave(name); err != nil {
		return err
	}
	n.poke()
	return nil
}
