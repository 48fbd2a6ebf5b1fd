package lb

import (
	"errors"
	"fmt"
	"net/netip"
)

const (
	// MaxNameLen is the longest service name: one DNS label.
	MaxNameLen = 63
	// MaxBackendsPerService bounds a service's backend set. With the default
	// Maglev table size each backend then still owns at least 64 slots, so
	// load stays within a few percent of even.
	MaxBackendsPerService = 1024
	// maxVNI is the largest 24-bit VXLAN network identifier.
	maxVNI = 1<<24 - 1
)

// NetworkView is what validation needs to know about the network a service
// or backend belongs to.
type NetworkView struct {
	Name   string
	VNI    uint32
	Subnet netip.Prefix
	// AddrInUse reports whether addr is taken on the network (an endpoint, a
	// node, another service's VIP) and by whom, for the error message. nil
	// means no address is known to be taken.
	AddrInUse func(addr netip.Addr) (holder string, inUse bool)
}

// ValidateName checks that name is usable as a service name: a DNS label of
// lowercase letters, digits and hyphens, 1-63 long, not starting or ending
// with a hyphen.
func ValidateName(name string) error {
	if name == "" {
		return errors.New("name is empty: give the service a name like web or db-1")
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("name %.20q... is %d characters long: DNS labels are at most %d", name, len(name), MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-':
			if i == 0 || i == len(name)-1 {
				return fmt.Errorf("name %q starts or ends with a hyphen: DNS labels may not", name)
			}
		default:
			return fmt.Errorf("name %q contains %q: use lowercase letters, digits and hyphens only", name, c)
		}
	}
	return nil
}

// checkService validates what a service says about itself, without knowing
// its network. The balancer applies it to gossip input.
func checkService(s *Service) error {
	var errs []error
	if err := ValidateName(s.Name); err != nil {
		errs = append(errs, err)
	}
	if s.VNI == 0 || s.VNI > maxVNI {
		errs = append(errs, fmt.Errorf("vni %d is out of range: use 1-%d", s.VNI, maxVNI))
	}
	if len(s.Ports) > MaxPortsPerService {
		errs = append(errs, fmt.Errorf("%d ports: a service has at most %d", len(s.Ports), MaxPortsPerService))
	}
	for i, p := range s.Ports {
		if p.Port == 0 {
			errs = append(errs, fmt.Errorf("ports[%d]: port 0 is not a valid port: use 1-65535", i))
		}
		if p.Proto != ProtoTCP && p.Proto != ProtoUDP {
			errs = append(errs, fmt.Errorf("ports[%d]: protocol %s is not supported: use tcp or udp", i, p.Proto))
		}
		for _, q := range s.Ports[:i] {
			if q == p {
				errs = append(errs, fmt.Errorf("ports[%d]: %s is listed twice", i, p))
			}
		}
	}
	switch s.Mode {
	case ModeVIP:
		if !s.VIP.IsValid() {
			errs = append(errs, errors.New("vip is missing: a vip-mode service needs an address on its network"))
		} else if s.VIP.Is4In6() || s.VIP.Zone() != "" {
			errs = append(errs, fmt.Errorf("vip %s: use a plain IPv4 or IPv6 address", s.VIP))
		}
		if len(s.Ports) == 0 {
			errs = append(errs, errors.New("no ports: a vip-mode service needs at least one port like 80/tcp"))
		}
	case ModeDNSRR:
		if s.VIP.IsValid() {
			errs = append(errs, fmt.Errorf("vip %s is set: dnsrr services have no VIP, remove it or use mode vip", s.VIP))
		}
	default:
		errs = append(errs, fmt.Errorf("mode %q is unknown: use vip or dnsrr", s.Mode))
	}
	return prefixErr(fmt.Sprintf("service %q", s.Name), errors.Join(errs...))
}

// ValidateService checks a service against the network it is to live on.
// It returns every problem found, each saying what to change.
func ValidateService(s Service, nw NetworkView) error {
	errs := []error{checkService(&s)}
	if s.Network != nw.Name {
		errs = append(errs, fmt.Errorf("service %q: network %q does not match %q", s.Name, s.Network, nw.Name))
	}
	if s.VNI != nw.VNI {
		errs = append(errs, fmt.Errorf("service %q: vni %d does not match network %q (vni %d)", s.Name, s.VNI, nw.Name, nw.VNI))
	}
	if s.Mode == ModeVIP && s.VIP.IsValid() {
		if err := checkInSubnet("vip", s.VIP, nw); err != nil {
			errs = append(errs, fmt.Errorf("service %q: %w", s.Name, err))
		} else if holder, used := addrInUse(nw, s.VIP); used {
			errs = append(errs, fmt.Errorf("service %q: vip %s is already used by %s: pick a free address", s.Name, s.VIP, holder))
		}
	}
	return errors.Join(errs...)
}

// checkBackend validates what a backend says about itself against its
// service, without knowing the network.
func checkBackend(b *Backend, s *Service) error {
	var errs []error
	if b.Service != s.Name {
		errs = append(errs, fmt.Errorf("belongs to service %q, not %q", b.Service, s.Name))
	}
	if !b.Addr.Addr().IsValid() {
		errs = append(errs, errors.New("address is missing: give the endpoint's IP, like 10.0.0.7:8080"))
	} else if b.Addr.Addr().Is4In6() || b.Addr.Addr().Zone() != "" {
		errs = append(errs, fmt.Errorf("address %s: use a plain IPv4 or IPv6 address", b.Addr))
	} else if s.Mode == ModeVIP && s.VIP.IsValid() {
		if b.Addr.Addr().Is4() != s.VIP.Is4() {
			errs = append(errs, fmt.Errorf("address %s is not the same IP family as vip %s", b.Addr.Addr(), s.VIP))
		}
		if b.Addr.Addr() == s.VIP {
			errs = append(errs, fmt.Errorf("address %s is the service's own vip: use the endpoint's address", b.Addr.Addr()))
		}
	}
	if b.Addr.Port() != 0 && len(s.Ports) > 1 {
		errs = append(errs, fmt.Errorf("port %d given but the service has %d ports: use port 0, meaning each service port maps to the same port on the backend", b.Addr.Port(), len(s.Ports)))
	}
	if b.Node == "" {
		errs = append(errs, errors.New("node is empty: name the node the endpoint runs on"))
	}
	return prefixErr(fmt.Sprintf("backend %s of service %q", b.Addr, s.Name), errors.Join(errs...))
}

// ValidateBackend checks a backend against its service and network.
func ValidateBackend(b Backend, s Service, nw NetworkView) error {
	errs := []error{checkBackend(&b, &s)}
	if b.Addr.Addr().IsValid() {
		if err := checkInSubnet("address", b.Addr.Addr(), nw); err != nil {
			errs = append(errs, fmt.Errorf("backend %s of service %q: %w", b.Addr, s.Name, err))
		}
	}
	return errors.Join(errs...)
}

func checkInSubnet(what string, a netip.Addr, nw NetworkView) error {
	p := nw.Subnet.Masked()
	if !p.Contains(a) {
		return fmt.Errorf("%s %s is outside network %q subnet %s: pick an address inside it", what, a, nw.Name, nw.Subnet)
	}
	if a == p.Addr() {
		return fmt.Errorf("%s %s is the subnet's network address: pick a host address", what, a)
	}
	if a.Is4() && p.Bits() < 31 && a == lastAddr(p) {
		return fmt.Errorf("%s %s is the subnet's broadcast address: pick a host address", what, a)
	}
	return nil
}

func addrInUse(nw NetworkView, a netip.Addr) (string, bool) {
	if nw.AddrInUse == nil {
		return "", false
	}
	return nw.AddrInUse(a)
}

// lastAddr returns the highest address in an IPv4 prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// prefixErr puts context in front of every joined error, so each line of the
// message names what it is about.
func prefixErr(prefix string, err error) error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs := j.Unwrap()
		out := make([]error, len(errs))
		for i, e := range errs {
			out[i] = fmt.Errorf("%s: %w", prefix, e)
		}
		return errors.Join(out...)
	}
	return fmt.Errorf("%s: %w", prefix, err)
}
