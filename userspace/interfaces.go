package userspace

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Dialer opens connections inside the overlay. The Server passes only
// literal addresses ("10.1.0.5:80", "[fd00::5]:53") that passed the Policy,
// and networks "tcp" and "udp". Errors should wrap the syscall errno or
// context error they mean (ECONNREFUSED, EHOSTUNREACH, ENETUNREACH,
// context.DeadlineExceeded) so proxies can reply precisely.
type Dialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// Listener opens listening sockets on the node's own overlay addresses.
// Closing what it returns must unblock a pending Accept or ReadFrom.
type Listener interface {
	ListenTCP(addr netip.AddrPort) (net.Listener, error)
	ListenUDP(addr netip.AddrPort) (net.PacketConn, error)
}

// Resolver resolves overlay names (meshnet's DNS: services, endpoints,
// nodes). It must answer quickly, with an error for unknown names, and never
// fall back to the host's resolver.
type Resolver interface {
	LookupHost(ctx context.Context, name string) ([]netip.Addr, error)
}

// Policy decides which destinations the relays may reach.
type Policy interface {
	Allowed(addr netip.Addr) bool
}

// Subnets is the Policy of a node: an address is allowed when it lies in one
// of the overlay's subnets. IPv4-mapped IPv6 addresses count as IPv4;
// unspecified, multicast and zoned addresses are never allowed.
type Subnets []netip.Prefix

// Allowed implements Policy.
func (s Subnets) Allowed(addr netip.Addr) bool {
	addr = addr.Unmap()
	if !addr.IsValid() || addr.IsUnspecified() || addr.IsMulticast() || addr.Zone() != "" {
		return false
	}
	for _, p := range s {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// StaticResolver resolves names from a fixed table, ignoring case and a
// trailing dot. It is for tests and for configs that name a few addresses.
type StaticResolver map[string][]netip.Addr

// LookupHost implements Resolver.
func (r StaticResolver) LookupHost(_ context.Context, name string) ([]netip.Addr, error) {
	if addrs := r[canonicalName(name)]; len(addrs) > 0 {
		return addrs, nil
	}
	return nil, &net.DNSError{Err: "no such host in the overlay", Name: name, IsNotFound: true}
}

// ResolverFunc adapts a function to Resolver.
type ResolverFunc func(ctx context.Context, name string) ([]netip.Addr, error)

// LookupHost implements Resolver.
func (f ResolverFunc) LookupHost(ctx context.Context, name string) ([]netip.Addr, error) {
	return f(ctx, name)
}

func canonicalName(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}

// errNotLiteral is returned by dialers that only take IP:port.
func errNotLiteral(addr string) error {
	return fmt.Errorf("userspace: %q is not an IP:port; resolve names before dialling into the overlay", addr)
}
