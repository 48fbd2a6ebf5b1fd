package userspace

import (
	"errors"
	"net"
	"net/netip"
	"time"
)

// serveSOCKS runs one SOCKS5 client: method negotiation (no authentication
// only), one CONNECT request, then the relay. It replies with the RFC 1928
// code for every refusal it can express.
func (s *Server) serveSOCKS(c net.Conn) {
	c.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	r := msgReader{c: c, buf: make([]byte, maxSOCKSGreeting+maxSOCKSRequest)}
	var noAuth bool
	err := r.next(func(b []byte) (int, error) {
		n, ok, err := parseSOCKSGreeting(b)
		noAuth = ok
		return n, err
	})
	if err != nil {
		s.badRequest("socks5", c, err)
		return
	}
	if !noAuth {
		c.Write([]byte{socksVersion, socksNoMethod})
		s.badRequest("socks5", c, errors.New("the client offers only authentication methods; meshnet's proxy takes none"))
		return
	}
	if _, err := c.Write([]byte{socksVersion, socksMethodNoAuth}); err != nil {
		return
	}
	var req socksRequest
	err = r.next(func(b []byte) (int, error) {
		var n int
		var err error
		req, n, err = parseSOCKSRequest(b)
		return n, err
	})
	if err != nil {
		if se := (*socksError)(nil); errors.As(err, &se) && se.rep != 0 {
			c.Write(appendSOCKSReply(nil, se.rep, netip.AddrPort{}))
		}
		s.badRequest("socks5", c, err)
		return
	}
	if req.cmd != socksCmdConnect {
		c.Write(appendSOCKSReply(nil, socksCmdUnsupported, netip.AddrPort{}))
		s.badRequest("socks5", c, errors.New("only CONNECT is supported"))
		return
	}
	up, f, err := s.connect(s.ctx, "tcp", req.dest)
	if err != nil {
		c.Write(appendSOCKSReply(nil, socksReplyFor(f), netip.AddrPort{}))
		s.reportFailure("socks5", req.dest, c.RemoteAddr(), f, err)
		return
	}
	if !s.group.track(up) {
		return
	}
	if _, err := c.Write(appendSOCKSReply(nil, socksSucceeded, addrPortOf(up.LocalAddr()))); err != nil {
		s.group.release(up)
		return
	}
	s.startRelay(c, up, r.rest())
}

// startRelay sends the client's early bytes upstream, lifts the handshake
// deadline and relays.
func (s *Server) startRelay(client, up net.Conn, early []byte) {
	if len(early) > 0 {
		if _, err := up.Write(early); err != nil {
			s.group.release(up)
			return
		}
	}
	client.SetDeadline(time.Time{})
	s.relay(client, up)
}

// addrPortOf returns a's address (IPv4 unmapped) and port, or the zero
// AddrPort.
func addrPortOf(a net.Addr) netip.AddrPort {
	var ap netip.AddrPort
	switch a := a.(type) {
	case *net.TCPAddr:
		ap = a.AddrPort()
	case *net.UDPAddr:
		ap = a.AddrPort()
	case nil:
		return netip.AddrPort{}
	default:
		ap, _ = netip.ParseAddrPort(a.String())
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
