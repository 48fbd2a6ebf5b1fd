package userspace

// Reaching a destination: resolve through the Resolver only, admit through
// the Policy only, then dial. Nothing is dialled before the Policy said yes,
// so a request for the host's own network never leaves this file.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"
)

// failure says why a destination was not reached, in terms every relay can
// answer with.
type failure uint8

const (
	reached         failure = iota
	failNotAllowed          // outside the overlay
	failUnknownHost         // the Resolver does not know the name
	failRefused             // the destination answered with a reset
	failUnreachable         // no route to the destination
	failTimeout             // no answer in time
	failGeneral             // anything else
)

func (f failure) String() string {
	switch f {
	case reached:
		return "reached"
	case failNotAllowed:
		return "destination is outside the overlay"
	case failUnknownHost:
		return "unknown host"
	case failRefused:
		return "connection refused"
	case failUnreachable:
		return "destination unreachable"
	case failTimeout:
		return "destination did not answer in time"
	}
	return "could not connect"
}

// dest is a destination a client asked for: an address, or a name to
// resolve.
type dest struct {
	addr netip.Addr // valid for a literal address
	name string     // set for a name
	port uint16
}

func (d dest) String() string {
	host := d.name
	if d.addr.IsValid() {
		host = d.addr.String()
	}
	return net.JoinHostPort(host, strconv.Itoa(int(d.port)))
}

// destFromHost makes a dest of a host string, parsing IP literals (a zoned
// one is left to the Resolver, which knows no such name).
func destFromHost(host string, port uint16) dest {
	if a, err := netip.ParseAddr(host); err == nil && a.Zone() == "" {
		return dest{addr: a, port: port}
	}
	return dest{name: host, port: port}
}

// connect resolves d, admits its addresses through the Policy and dials the
// first allowed address that answers, within DialTimeout overall. Each
// address gets an equal share of the time left, so one silent address does
// not use up the time of those after it.
func (s *Server) connect(ctx context.Context, network string, d dest) (net.Conn, failure, error) {
	addrs, f, err := s.resolve(ctx, d)
	if err != nil {
		return nil, f, err
	}
	deadline := time.Now().Add(s.cfg.DialTimeout)
	var firstErr error
	for i, a := range addrs {
		share := time.Until(deadline) / time.Duration(len(addrs)-i)
		actx, cancel := context.WithTimeout(ctx, share)
		c, err := s.deps.Dialer.DialContext(actx, network, netip.AddrPortFrom(a, d.port).String())
		cancel()
		if err == nil {
			return c, reached, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	s.stats.DialFailed.Add(1)
	return nil, classify(firstErr), fmt.Errorf("userspace: %s %s: %w", network, d, firstErr)
}

// resolve returns d's allowed addresses, or why there are none.
func (s *Server) resolve(ctx context.Context, d dest) ([]netip.Addr, failure, error) {
	addrs := []netip.Addr{d.addr}
	if !d.addr.IsValid() {
		if s.deps.Resolver == nil || d.name == "" {
			s.stats.UnknownHost.Add(1)
			return nil, failUnknownHost, fmt.Errorf("userspace: %q: no such host in the overlay", d.name)
		}
		rctx, cancel := context.WithTimeout(ctx, s.cfg.ResolveTimeout)
		var err error
		addrs, err = s.deps.Resolver.LookupHost(rctx, d.name)
		cancel()
		if err == nil && len(addrs) == 0 {
			err = errors.New("it has no addresses")
		}
		if err != nil {
			s.stats.UnknownHost.Add(1)
			return nil, failUnknownHost, fmt.Errorf("userspace: %q is not a name in the overlay: %w", d.name, err)
		}
	}
	allowed := addrs[:0:0]
	for _, a := range addrs {
		if s.deps.Policy.Allowed(a) {
			allowed = append(allowed, a.Unmap())
		}
	}
	if len(allowed) == 0 {
		s.stats.NotAllowed.Add(1)
		if d.addr.IsValid() {
			return nil, failNotAllowed, fmt.Errorf("userspace: %s is outside the overlay; only overlay addresses are reachable", d)
		}
		return nil, failNotAllowed, fmt.Errorf("userspace: %s resolves outside the overlay (%v); only overlay addresses are reachable", d, addrs)
	}
	return allowed, reached, nil
}

// classify maps a dial error to a failure.
func classify(err error) failure {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return failRefused
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return failUnreachable
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.Is(err, syscall.ETIMEDOUT), errors.As(err, &ne) && ne.Timeout():
		return failTimeout
	}
	return failGeneral
}
