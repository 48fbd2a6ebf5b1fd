package userspace

import (
	"context"
	"fmt"
	"net"
	"net/netip"
)

// startExpose listens on e's overlay port on every overlay address and
// relays each connection (each UDP client) to e's loopback port.
func (s *Server) startExpose(e Expose) error {
	target := netip.AddrPortFrom(s.cfg.Loopback, e.LocalPort).String()
	host := s.deps.hostDialer()
	dial := func(ctx context.Context) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
		defer cancel()
		c, err := host.DialContext(ctx, e.Network, target)
		if err != nil {
			s.stats.DialFailed.Add(1)
			if s.ctx.Err() == nil {
				s.warn.warn("userspace: expose: nothing answers on the host", "expose", e.String(), "target", target, "err", err)
			}
		}
		return c, err
	}
	for _, a := range s.cfg.OverlayAddrs {
		addr := netip.AddrPortFrom(a, e.OverlayPort)
		if e.Network == "udp" {
			pc, err := s.deps.Listener.ListenUDP(addr)
			if err != nil {
				return fmt.Errorf("userspace: expose %q: listen on overlay %s: %w", e, addr, err)
			}
			s.serveUDP(pc, "expose "+e.String(), dial)
			continue
		}
		l, err := s.deps.Listener.ListenTCP(addr)
		if err != nil {
			return fmt.Errorf("userspace: expose %q: listen on overlay %s: %w", e, addr, err)
		}
		s.serveListener(l, "expose "+e.String(), func(c net.Conn) {
			up, err := dial(s.ctx)
			if err == nil && s.group.track(up) {
				s.relay(c, up)
			}
		})
	}
	return nil
}
