package encap

import (
	"net/netip"

	"golang.zx2c4.com/wireguard/conn"
)

// newBind returns the UDP bind both transports use: meshnet's own on
// Linux (udpBind: gathered GSO sends, no allocation per datagram).
func newBind(o bindOptions) conn.Bind {
	return newUDPBind(udpBindConfig(o))
}

// newBindEndpoint returns an endpoint of newBind's kind for dst.
func newBindEndpoint(dst netip.AddrPort) conn.Endpoint { return newUDPEndpoint(dst) }

// endpointAddr returns the address of an endpoint a bind produced.
func endpointAddr(ep conn.Endpoint) (netip.AddrPort, bool) {
	e, ok := ep.(*udpEndpoint)
	if !ok {
		return netip.AddrPort{}, false
	}
	return e.dst, true
}
