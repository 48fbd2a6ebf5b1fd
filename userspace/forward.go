package userspace

import (
	"context"
	"fmt"
	"net"
	"net/netip"
)

// startForward listens on the loopback port of f and relays each connection
// (each UDP client) to f's destination, resolved at that moment.
func (s *Server) startForward(f Forward) (netip.AddrPort, error) {
	addr := netip.AddrPortFrom(s.cfg.Loopback, f.LocalPort)
	d := destFromHost(f.Host, f.Port)
	if f.Network == "udp" {
		pc, err := net.ListenPacket("udp", addr.String())
		if err != nil {
			return addr, fmt.Errorf("userspace: forward %q: %w; pick another LOCALPORT or stop what uses it", f, err)
		}
		s.serveUDP(pc, "forward "+f.String(), func(ctx context.Context) (net.Conn, error) {
			c, fail, err := s.connect(ctx, "udp", d)
			if err != nil {
				s.reportForward(f, fail, err)
			}
			return c, err
		})
		return addrPortOf(pc.LocalAddr()), nil
	}
	l, err := net.Listen("tcp", addr.String())
	if err != nil {
		return addr, fmt.Errorf("userspace: forward %q: %w; pick another LOCALPORT or stop what uses it", f, err)
	}
	s.serveListener(l, "forward "+f.String(), func(c net.Conn) {
		up, fail, err := s.connect(s.ctx, "tcp", d)
		if err != nil {
			s.reportForward(f, fail, err)
			return
		}
		if s.group.track(up) {
			s.relay(c, up)
		}
	})
	return addrPortOf(l.Addr()), nil
}

// reportForward warns (rate-limited) that a forward's destination was not
// reached: a forward has no client protocol to carry the reason.
func (s *Server) reportForward(f Forward, fail failure, err error) {
	if s.ctx.Err() != nil {
		return // closing
	}
	s.warn.warn("userspace: forward: "+fail.String(), "forward", f.String(), "err", err)
}
