package tun

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// StackNet is a netstack device's sockets API: programs in this process
// dial, listen and ping inside the overlay through it. Addresses are
// literal; an unspecified address lets the stack choose.
type StackNet struct {
	s *stack.Stack
}

// fullAddr converts ap to the stack's address form on its one NIC.
func fullAddr(ap netip.AddrPort) (tcpip.FullAddress, tcpip.NetworkProtocolNumber) {
	proto := tcpip.NetworkProtocolNumber(ipv4.ProtocolNumber)
	if ap.Addr().Is6() {
		proto = ipv6.ProtocolNumber
	}
	fa := tcpip.FullAddress{NIC: stackNIC, Port: ap.Port()}
	if ap.Addr().IsValid() && !ap.Addr().IsUnspecified() {
		fa.Addr = tcpip.AddrFromSlice(ap.Addr().AsSlice())
	}
	return fa, proto
}

// DialContextTCPAddrPort connects to addr over TCP; ctx bounds the handshake.
func (n *StackNet) DialContextTCPAddrPort(ctx context.Context, addr netip.AddrPort) (*gonet.TCPConn, error) {
	fa, proto := fullAddr(addr)
	return gonet.DialContextTCP(ctx, n.s, fa, proto)
}

// DialTCPAddrPort connects to addr over TCP.
func (n *StackNet) DialTCPAddrPort(addr netip.AddrPort) (*gonet.TCPConn, error) {
	fa, proto := fullAddr(addr)
	return gonet.DialTCP(n.s, fa, proto)
}

// ListenTCPAddrPort listens for TCP connections on addr.
func (n *StackNet) ListenTCPAddrPort(addr netip.AddrPort) (*gonet.TCPListener, error) {
	fa, proto := fullAddr(addr)
	return gonet.ListenTCP(n.s, fa, proto)
}

// DialUDPAddrPort opens a UDP socket bound to laddr (if valid or with a
// port) and connected to raddr (if valid or with a port).
func (n *StackNet) DialUDPAddrPort(laddr, raddr netip.AddrPort) (*gonet.UDPConn, error) {
	var lfa, rfa *tcpip.FullAddress
	var proto tcpip.NetworkProtocolNumber
	if laddr.IsValid() || laddr.Port() > 0 {
		fa, p := fullAddr(laddr)
		lfa, proto = &fa, p
	}
	if raddr.IsValid() || raddr.Port() > 0 {
		fa, p := fullAddr(raddr)
		rfa, proto = &fa, p
	}
	return gonet.DialUDP(n.s, lfa, rfa, proto)
}

// ListenUDPAddrPort opens an unconnected UDP socket bound to laddr.
func (n *StackNet) ListenUDPAddrPort(laddr netip.AddrPort) (*gonet.UDPConn, error) {
	return n.DialUDPAddrPort(laddr, netip.AddrPort{})
}

// DialPingAddr opens an ICMP echo socket to raddr, bound to laddr if it is
// valid. Writes take an ICMP echo request (the stack sets its identifier);
// reads return ICMP messages without the IP header. Deadlines work as on
// any net.Conn.
func (n *StackNet) DialPingAddr(laddr, raddr netip.Addr) (net.Conn, error) {
	if !raddr.IsValid() {
		return nil, errors.New("tun: ping: no destination address")
	}
	transport, proto := icmp.ProtocolNumber4, tcpip.NetworkProtocolNumber(ipv4.ProtocolNumber)
	if raddr.Is6() {
		transport, proto = icmp.ProtocolNumber6, ipv6.ProtocolNumber
	}
	var wq waiter.Queue
	ep, e := n.s.NewEndpoint(transport, proto, &wq)
	if e != nil {
		return nil, fmt.Errorf("tun: ping %s: open an ICMP socket: %s", raddr, e)
	}
	if laddr.IsValid() {
		fa, _ := fullAddr(netip.AddrPortFrom(laddr, 0))
		if e := ep.Bind(fa); e != nil {
			ep.Close()
			return nil, fmt.Errorf("tun: ping %s: bind to %s: %s", raddr, laddr, e)
		}
	}
	fa, _ := fullAddr(netip.AddrPortFrom(raddr, 0))
	if e := ep.Connect(fa); e != nil {
		ep.Close()
		return nil, fmt.Errorf("tun: ping %s: %s", raddr, e)
	}
	return gonet.NewUDPConn(&wq, ep), nil
}
