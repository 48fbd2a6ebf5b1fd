package lb

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
)

// snapshot is the immutable service state the data path and DNS read. A new
// one replaces the old atomically on every Update; nothing in it changes
// after it is published.
type snapshot struct {
	vips   map[vipKey]*svcState // vip-mode services by network and VIP
	byName map[string]*svcState
}

type vipKey struct {
	vni  uint32
	addr netip.Addr
}

type svcState struct {
	svc Service
	// healthy are the backends new flows may pick, in Maglev index order.
	healthy []Backend
	table   *Maglev
	// addrs and ips hold every backend, healthy or not: a tracked flow
	// stays on its backend while the backend exists.
	addrs map[netip.AddrPort]struct{}
	ips   map[netip.Addr]struct{}
	// dnsAddrs is what DNS answers: the VIP, or the healthy backends' IPs.
	dnsAddrs []netip.Addr
}

// hasBackend reports whether the backend a flow was translated to (IP and
// the port actually used) is still one of the service's backends.
func (s *svcState) hasBackend(b netip.AddrPort, proto Proto) bool {
	if proto == ProtoICMP || proto == ProtoICMPv6 {
		_, ok := s.ips[b.Addr()]
		return ok
	}
	if _, ok := s.addrs[b]; ok {
		return true
	}
	_, ok := s.addrs[netip.AddrPortFrom(b.Addr(), 0)]
	return ok
}

// buildSnapshot turns gossip state into a snapshot. Entries that are
// invalid or conflict with an earlier one (in name order) are left out and
// reported; the rest is usable. Maglev tables of prev are reused for
// services whose healthy backend set did not change.
func buildSnapshot(services []Service, backends []Backend, maglevSize int, prev *snapshot) (*snapshot, error) {
	var errs []error
	svcs := slices.Clone(services)
	slices.SortStableFunc(svcs, func(a, b Service) int { return cmp.Compare(a.Name, b.Name) })
	snap := &snapshot{vips: map[vipKey]*svcState{}, byName: map[string]*svcState{}}
	for i := range svcs {
		s := &svcs[i]
		if err := checkService(s); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := snap.byName[s.Name]; dup {
			errs = append(errs, fmt.Errorf("service %q: defined twice", s.Name))
			continue
		}
		vk := vipKey{s.VNI, s.VIP}
		if s.Mode == ModeVIP {
			if other, dup := snap.vips[vk]; dup {
				errs = append(errs, fmt.Errorf("service %q: vip %s is already used by service %q", s.Name, s.VIP, other.svc.Name))
				continue
			}
		}
		st := &svcState{svc: *s, addrs: map[netip.AddrPort]struct{}{}, ips: map[netip.Addr]struct{}{}}
		st.svc.Ports = slices.Clone(s.Ports)
		snap.byName[s.Name] = st
		if s.Mode == ModeVIP {
			snap.vips[vk] = st
		}
	}

	healthy := map[string][]Backend{}
	for i := range backends {
		b := &backends[i]
		st := snap.byName[b.Service]
		if st == nil {
			continue // its service is not known (yet): gossip order varies
		}
		if err := checkBackend(b, &st.svc); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := st.addrs[b.Addr]; dup {
			errs = append(errs, fmt.Errorf("backend %s of service %q: listed twice", b.Addr, b.Service))
			continue
		}
		st.addrs[b.Addr] = struct{}{}
		st.ips[b.Addr.Addr()] = struct{}{}
		if b.Healthy {
			healthy[b.Service] = append(healthy[b.Service], *b)
		}
	}

	for _, name := range slices.Sorted(maps.Keys(snap.byName)) {
		if err := snap.byName[name].setHealthy(healthy[name], maglevSize, prev); err != nil {
			errs = append(errs, err)
		}
	}
	return snap, errors.Join(errs...)
}

// setHealthy orders the healthy backends as the Maglev table does and
// builds (or reuses) the table.
func (st *svcState) setHealthy(bs []Backend, maglevSize int, prev *snapshot) error {
	var err error
	slices.SortFunc(bs, func(a, b Backend) int { return a.Addr.Compare(b.Addr) })
	if len(bs) > MaxBackendsPerService {
		err = fmt.Errorf("service %q: %d healthy backends, only the first %d are used", st.svc.Name, len(bs), MaxBackendsPerService)
		bs = bs[:MaxBackendsPerService]
	}
	names := make([]string, len(bs))
	byName := make(map[string]Backend, len(bs))
	for i, b := range bs {
		names[i] = b.Addr.String()
		byName[names[i]] = b
	}
	if st.svc.Mode == ModeVIP {
		st.table = reuseTable(prev, st.svc.Name, names, maglevSize)
		if st.table == nil {
			t, terr := NewMaglev(names, maglevSize)
			if terr != nil {
				return fmt.Errorf("service %q: %w", st.svc.Name, terr)
			}
			st.table = t
		}
		st.healthy = make([]Backend, len(names))
		for i, n := range st.table.Names() {
			st.healthy[i] = byName[n]
		}
		st.dnsAddrs = []netip.Addr{st.svc.VIP}
		return err
	}
	seen := map[netip.Addr]bool{}
	for _, b := range bs {
		if a := b.Addr.Addr(); !seen[a] {
			seen[a] = true
			st.dnsAddrs = append(st.dnsAddrs, a)
		}
	}
	return err
}

// reuseTable returns prev's table for the service if it was built from the
// same backend names and size.
func reuseTable(prev *snapshot, name string, names []string, size int) *Maglev {
	if prev == nil {
		return nil
	}
	old := prev.byName[name]
	if old == nil || old.table == nil || len(old.table.table) != size && len(names) > 0 {
		return nil
	}
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	if !slices.Equal(sorted, old.table.Names()) {
		return nil
	}
	return old.table
}
