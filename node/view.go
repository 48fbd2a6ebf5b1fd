package node

import (
	"net/netip"
	"slices"
	"strings"

	"meshnet.dev/meshnet/internal/packet"
	"meshnet.dev/meshnet/lb"
	"meshnet.dev/meshnet/node/control"
	"meshnet.dev/meshnet/node/tables"
	"meshnet.dev/meshnet/routing"
	"meshnet.dev/meshnet/tun"
)

// Ownership. The reconciler goroutine owns the node's attachments and
// what it last computed from gossip (reconciled); no other goroutine
// reads or writes them, except Run's stop steps once the reconciler has
// stopped. After every change the reconciler publishes a view: copies,
// never modified once published, behind an atomic pointer. The control
// API, metrics, the learn loop, the health checker and the userspace
// proxies read views only, so they need no lock and never see an
// attachment half-changed.

// reconciled is the reconciler's own state.
type reconciled struct {
	nets       map[string]*attachment
	paired     map[string]bool         // nil without an encrypted transport
	static     []tables.StaticPeer     // the cluster's static peers, resolved
	prevBlocks map[string]netip.Prefix // blocks held before a restart, claimed first
	report     control.Report
	services   []lb.Service // live services, as last fed to the balancer
	backends   []lb.Backend
	seeds      []string  // gossip addresses of live members, for restarts
	saved      persisted // the state file as last written
	dns        dnsState
	us         userspaceState
}

// view is what the reconciler last published.
type view struct {
	nets     []netView // sorted by name
	report   control.Report
	services []lb.Service
	backends []lb.Backend
	static   []tables.StaticPeer
	seeds    []string
	blocks   map[string]netip.Prefix // settled IPAM blocks by network
}

// netView is an attached network as it was when published.
type netView struct {
	def    tables.NetDef
	device string
	bridge string // "" for none
	mac    packet.MAC
	mtu    int
	addr   netip.Addr         // invalid until assigned
	stack  *tun.Netstack      // the device, in netstack mode once the address is settled
	stats  *routing.PortStats // the port's live counters; nil without a port
}

// emptyView is the view before the first publication.
var emptyView = &view{}

// current returns the last published view.
func (n *Node) current() *view {
	if v := n.published.Load(); v != nil {
		return v
	}
	return emptyView
}

// publish makes the reconciler's current state the view. Only the
// reconciler (and Run's stop steps after it) calls it.
func (n *Node) publish() {
	r := &n.rec
	v := &view{report: r.report, services: r.services, backends: r.backends, static: r.static, seeds: r.seeds, blocks: map[string]netip.Prefix{}}
	for name, a := range r.nets {
		nv := netView{def: a.def, device: a.device, bridge: a.bridge, mac: a.mac, mtu: a.mtu, addr: a.addr, stack: a.stack}
		if a.port != nil {
			nv.stats = &a.port.Stats
		}
		v.nets = append(v.nets, nv)
		if a.ipam.block.IsValid() && a.ipam.settled {
			v.blocks[name] = a.ipam.block
		}
	}
	slices.SortFunc(v.nets, func(a, b netView) int { return strings.Compare(a.def.Name, b.def.Name) })
	n.published.Store(v)
}

// network returns attached network name.
func (v *view) network(name string) (netView, bool) {
	for _, nv := range v.nets {
		if nv.def.Name == name {
			return nv, true
		}
	}
	return netView{}, false
}
