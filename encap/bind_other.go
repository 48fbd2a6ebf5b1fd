//go:build !linux

package encap

import (
	"net/netip"

	"golang.zx2c4.com/wireguard/conn"
)

// newBind returns wireguard-go's standard bind where meshnet has no bind
// of its own. The options have no effect there: it uses no offloads, its
// own batch size and both IP families.
func newBind(bindOptions) conn.Bind { return conn.NewStdNetBind() }

// newBindEndpoint returns an endpoint of newBind's kind for dst.
func newBindEndpoint(dst netip.AddrPort) conn.Endpoint {
	return &conn.StdNetEndpoint{AddrPort: netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())}
}

// endpointAddr returns the address of an endpoint a bind produced.
func endpointAddr(ep conn.Endpoint) (netip.AddrPort, bool) {
	e, ok := ep.(*conn.StdNetEndpoint)
	if !ok {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(e.Addr().Unmap(), e.Port()), true
}
