package tun

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"

	"meshnet.dev/meshnet/internal/packet"
)

// ErrNoLink is returned by FakeLinks for operations on a link it does not
// have.
var ErrNoLink = errors.New("tun: no such link")

// ErrNoRoute is returned by RouteMTU when no route covers the destination.
var ErrNoRoute = errors.New("tun: no route to destination")

// FakeLink is the state FakeLinks records for one interface.
type FakeLink struct {
	MTU   int
	MAC   packet.MAC
	Up    bool
	Addrs []netip.Prefix
	// Bridge marks a link EnsureBridge made; Master is the bridge a link
	// is enslaved to.
	Bridge bool
	Master string
}

type fakeRoute struct {
	dst  netip.Prefix
	link string // outgoing link; empty for a route that only carries an MTU
	mtu  int    // route MTU metric; 0 means "use the link's"
}

// FakeLinks is a LinkManager that records link state in memory, for tests of
// code that configures devices. Links must be added with AddLink before they
// can be configured, as on a real host. The zero value is ready to use, and
// it is safe for concurrent use.
type FakeLinks struct {
	mu     sync.Mutex
	links  map[string]*FakeLink
	routes []fakeRoute
}

var _ LinkManager = (*FakeLinks)(nil)

// NewFakeLinks returns an empty FakeLinks.
func NewFakeLinks() *FakeLinks { return &FakeLinks{} }

// AddLink creates (or replaces) a link, down and without addresses.
func (f *FakeLinks) AddLink(name string, mtu int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.links == nil {
		f.links = make(map[string]*FakeLink)
	}
	f.links[name] = &FakeLink{MTU: mtu}
}

// Link returns a copy of a link's state.
func (f *FakeLinks) Link(name string) (FakeLink, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.links[name]
	if !ok {
		return FakeLink{}, false
	}
	c := *l
	c.Addrs = slices.Clone(l.Addrs)
	return c, true
}

// AddRoute routes dst out of link; RouteMTU then reports the link's MTU
// unless SetRouteMTU gave the route its own.
func (f *FakeLinks) AddRoute(dst netip.Prefix, link string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.routeLocked(dst.Masked())
	r.link = link
}

// SetRouteMTU sets the MTU metric of the route to dst, creating the route if
// needed. Pass a single address as netip.PrefixFrom(a, a.BitLen()).
func (f *FakeLinks) SetRouteMTU(dst netip.Prefix, mtu int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.routeLocked(dst.Masked())
	r.mtu = mtu
}

// routeLocked finds or appends the route for dst. f.mu must be held.
func (f *FakeLinks) routeLocked(dst netip.Prefix) *fakeRoute {
	for i := range f.routes {
		if f.routes[i].dst == dst {
			return &f.routes[i]
		}
	}
	f.routes = append(f.routes, fakeRoute{dst: dst})
	return &f.routes[len(f.routes)-1]
}

// withLink runs fn on the named link under the lock.
func (f *FakeLinks) withLink(name string, fn func(*FakeLink) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.links[name]
	if !ok {
		return fmt.Errorf("link %q: %w", name, ErrNoLink)
	}
	return fn(l)
}

// SetMTU implements LinkManager.
func (f *FakeLinks) SetMTU(name string, mtu int) error {
	return f.withLink(name, func(l *FakeLink) error { l.MTU = mtu; return nil })
}

// AddAddress implements LinkManager. Adding an address twice is not an error.
func (f *FakeLinks) AddAddress(name string, prefix netip.Prefix) error {
	return f.withLink(name, func(l *FakeLink) error {
		if !slices.Contains(l.Addrs, prefix) {
			l.Addrs = append(l.Addrs, prefix)
		}
		return nil
	})
}

// DelAddress implements LinkManager.
func (f *FakeLinks) DelAddress(name string, prefix netip.Prefix) error {
	return f.withLink(name, func(l *FakeLink) error {
		l.Addrs = slices.DeleteFunc(l.Addrs, func(p netip.Prefix) bool { return p == prefix })
		return nil
	})
}

// SetHardwareAddr implements LinkManager.
func (f *FakeLinks) SetHardwareAddr(name string, mac packet.MAC) error {
	return f.withLink(name, func(l *FakeLink) error { l.MAC = mac; return nil })
}

// SetUp implements LinkManager.
func (f *FakeLinks) SetUp(name string) error {
	return f.withLink(name, func(l *FakeLink) error { l.Up = true; return nil })
}

// DeleteLink implements LinkManager.
func (f *FakeLinks) DeleteLink(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.links, name)
	return nil
}

// LinkExists implements LinkManager.
func (f *FakeLinks) LinkExists(name string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.links[name]
	return ok, nil
}

// RouteMTU implements LinkManager: the longest matching route's MTU metric,
// else its link's MTU.
func (f *FakeLinks) RouteMTU(dst netip.Addr) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	best := -1
	for i, r := range f.routes {
		if r.dst.Contains(dst) && (best < 0 || r.dst.Bits() > f.routes[best].dst.Bits()) {
			best = i
		}
	}
	if best < 0 {
		return 0, fmt.Errorf("route MTU towards %s: %w", dst, ErrNoRoute)
	}
	r := f.routes[best]
	if r.mtu > 0 {
		return r.mtu, nil
	}
	if l, ok := f.links[r.link]; ok {
		return l.MTU, nil
	}
	return 0, fmt.Errorf("route MTU towards %s: route %s has no MTU and link %q: %w", dst, r.dst, r.link, ErrNoLink)
}

// EnsureBridge implements LinkManager.
func (f *FakeLinks) EnsureBridge(name string, mac packet.MAC) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.links == nil {
		f.links = make(map[string]*FakeLink)
	}
	l, ok := f.links[name]
	if !ok {
		l = &FakeLink{MTU: 1500, Bridge: true}
		f.links[name] = l
	}
	if !l.Bridge {
		return fmt.Errorf("tun: %q exists and is not a bridge", name)
	}
	l.MAC, l.Up = mac, true
	return nil
}

// SetMaster implements LinkManager.
func (f *FakeLinks) SetMaster(name, bridge string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if b, ok := f.links[bridge]; !ok || !b.Bridge {
		return fmt.Errorf("tun: no bridge %q: %w", bridge, ErrNoLink)
	}
	l, ok := f.links[name]
	if !ok {
		return fmt.Errorf("tun: no interface %q: %w", name, ErrNoLink)
	}
	l.Master = bridge
	return nil
}
