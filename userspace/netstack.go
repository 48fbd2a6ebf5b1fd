package userspace

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"

	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
)

// Netstack adapts a userspace stack (tun.Netstack.Net) to Dialer and
// Listener. It dials literal addresses only: names are the Resolver's job,
// so the stack's own DNS client is never used.
type Netstack struct {
	net StackSockets
}

// StackSockets is what Netstack needs of a userspace stack's sockets API
// (tun.StackNet has it).
type StackSockets interface {
	DialContextTCPAddrPort(ctx context.Context, addr netip.AddrPort) (*gonet.TCPConn, error)
	DialUDPAddrPort(laddr, raddr netip.AddrPort) (*gonet.UDPConn, error)
	ListenTCPAddrPort(addr netip.AddrPort) (*gonet.TCPListener, error)
	ListenUDPAddrPort(laddr netip.AddrPort) (*gonet.UDPConn, error)
}

var (
	_ Dialer   = Netstack{}
	_ Listener = Netstack{}
)

// NewNetstack returns the adapter for n.
func NewNetstack(n StackSockets) Netstack { return Netstack{net: n} }

// DialContext implements Dialer for "tcp" and "udp" (and their 4/6 forms).
// Errors wrap the errno they mean (ECONNREFUSED, EHOSTUNREACH, ENETUNREACH,
// ETIMEDOUT, ECONNRESET) or the context's error.
func (s Netstack) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, errNotLiteral(addr)
	}
	switch strings.TrimRight(network, "46") {
	case "tcp":
		c, err := s.net.DialContextTCPAddrPort(ctx, ap)
		if err != nil {
			return nil, stackErr(err)
		}
		return c, nil
	case "udp":
		c, err := s.net.DialUDPAddrPort(netip.AddrPort{}, ap)
		if err != nil {
			return nil, stackErr(err)
		}
		return c, nil
	}
	return nil, fmt.Errorf("userspace: cannot dial network %q in the overlay; use tcp or udp", network)
}

// ListenTCP implements Listener. Closing the listener unblocks Accept.
func (s Netstack) ListenTCP(addr netip.AddrPort) (net.Listener, error) {
	l, err := s.net.ListenTCPAddrPort(addr)
	if err != nil {
		return nil, stackErr(err)
	}
	return stackListener{l}, nil
}

// ListenUDP implements Listener.
func (s Netstack) ListenUDP(addr netip.AddrPort) (net.PacketConn, error) {
	c, err := s.net.ListenUDPAddrPort(addr)
	if err != nil {
		return nil, stackErr(err)
	}
	return c, nil
}

// stackListener makes Close wake a blocked Accept, which closing the
// stack's endpoint alone does not do.
type stackListener struct {
	*gonet.TCPListener
}

func (l stackListener) Close() error {
	l.Shutdown()
	return l.TCPListener.Close()
}

// stackErrno returns the errno the stack's error text names (the stack
// reports errors as text only), or 0.
func stackErrno(text string) syscall.Errno {
	switch {
	case strings.Contains(text, "connection was refused"):
		return syscall.ECONNREFUSED
	case strings.Contains(text, "no route to host"):
		return syscall.EHOSTUNREACH
	case strings.Contains(text, "network is unreachable"):
		return syscall.ENETUNREACH
	case strings.Contains(text, "operation timed out"):
		return syscall.ETIMEDOUT
	case strings.Contains(text, "connection reset by peer"):
		return syscall.ECONNRESET
	case strings.Contains(text, "port is in use"):
		return syscall.EADDRINUSE
	}
	return 0
}

// stackErr wraps err with the errno its text names, if any.
func stackErr(err error) error {
	if err == nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return err
	}
	if errno := stackErrno(err.Error()); errno != 0 {
		return &errnoError{err: err, errno: errno}
	}
	return err
}

// errnoError is err, also matching errno in errors.Is.
type errnoError struct {
	err   error
	errno syscall.Errno
}

func (e *errnoError) Error() string   { return e.err.Error() }
func (e *errnoError) Unwrap() []error { return []error{e.err, e.errno} }
