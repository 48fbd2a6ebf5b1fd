package encap

import (
	"net/netip"
	"sync/atomic"

	"golang.zx2c4.com/wireguard/conn"
)

// udpEndpoint is a remote UDP address as meshnet's bind knows it: where to
// send, and (sticky source) which of this host's addresses the peer last
// reached, so replies leave from that address. Endpoints are shared and
// cached, so everything but the sticky-source switch is immutable.
type udpEndpoint struct {
	dst   netip.AddrPort
	src   netip.Addr // local address to send from; invalid: let the kernel pick
	ifidx int32      // interface the source address is on
	noSrc atomic.Bool
}

var _ conn.Endpoint = (*udpEndpoint)(nil)

// newUDPEndpoint returns an endpoint for dst with no sticky source; an
// IPv4-mapped address is unmapped so it leaves through the IPv4 socket.
func newUDPEndpoint(dst netip.AddrPort) *udpEndpoint {
	return &udpEndpoint{dst: netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())}
}

// ClearSrc forgets the sticky source (for good: endpoints are shared).
func (e *udpEndpoint) ClearSrc() { e.noSrc.Store(true) }

// source returns the sticky source, if one is set and not cleared.
func (e *udpEndpoint) source() (netip.Addr, int32) {
	if !e.src.IsValid() || e.noSrc.Load() {
		return netip.Addr{}, 0
	}
	return e.src, e.ifidx
}

// SrcToString returns the sticky source address, "" without one.
func (e *udpEndpoint) SrcToString() string {
	if src, _ := e.source(); src.IsValid() {
		return src.String()
	}
	return ""
}

// DstToString returns the destination as address:port.
func (e *udpEndpoint) DstToString() string { return e.dst.String() }

// DstToBytes returns the destination in a form WireGuard's cookies bind
// to (address and port bytes).
func (e *udpEndpoint) DstToBytes() []byte {
	b, _ := e.dst.MarshalBinary()
	return b
}

// DstIP returns the destination address.
func (e *udpEndpoint) DstIP() netip.Addr { return e.dst.Addr() }

// SrcIP returns the sticky source address, invalid without one.
func (e *udpEndpoint) SrcIP() netip.Addr {
	src, _ := e.source()
	return src
}

// udpEndpointKey identifies a received packet's endpoint.
type udpEndpointKey struct {
	dst   netip.AddrPort
	src   netip.Addr
	ifidx int32
}

// udpEndpointCache hands out one shared endpoint per key so the receive
// path does not allocate per packet. It belongs to one goroutine.
type udpEndpointCache map[udpEndpointKey]*udpEndpoint

func (c udpEndpointCache) get(k udpEndpointKey) *udpEndpoint {
	if ep := c[k]; ep != nil {
		return ep
	}
	if len(c) >= maxCachedEndpoints {
		clear(c)
	}
	ep := &udpEndpoint{dst: k.dst, src: k.src, ifidx: k.ifidx}
	c[k] = ep
	return ep
}
