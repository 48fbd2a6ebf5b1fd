package userspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// maxAcceptBackoff bounds the pause after a failed Accept (out of file
// descriptors, say) before trying again.
const maxAcceptBackoff = time.Second

// overLimitWriteTimeout bounds writing the refusal to a client over the
// connection limit; the accept loop waits for it.
const overLimitWriteTimeout = 100 * time.Millisecond

// Server runs the proxies, forwards and exposes of one Config. It owns every
// goroutine and socket it opens; Close stops them all.
type Server struct {
	cfg   Config
	deps  Deps
	log   *slog.Logger
	warn  *warner
	stats counters
	bufs  *bufPool
	group *group
	slots chan struct{} // one token per relayed TCP connection

	ctx    context.Context // cancelled by Close, so dials and lookups stop
	cancel context.CancelFunc

	bound     Bound
	closeOnce sync.Once
}

// Bound reports where a Server listens, with ports the system picked filled
// in.
type Bound struct {
	SOCKS5, HTTPConnect netip.AddrPort // zero when off
	// Forwards[i] is where Config.Forwards[i] listens.
	Forwards []netip.AddrPort
}

// New validates cfg, opens every listener and starts serving. A listener
// that cannot be opened fails the whole Server (nothing is left running),
// with an error naming what could not listen where.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.validate(deps); err != nil {
		return nil, err
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "userspace")
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:    cfg,
		deps:   deps,
		log:    log,
		warn:   newWarner(log),
		bufs:   newBufPool(),
		group:  newGroup(),
		slots:  make(chan struct{}, cfg.MaxConns),
		ctx:    ctx,
		cancel: cancel,
	}
	if err := s.start(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) start() error {
	for _, p := range []struct {
		name  string
		addr  netip.AddrPort
		serve func(net.Conn)
		bound *netip.AddrPort
	}{
		{"socks5", s.cfg.SOCKS5, s.serveSOCKS, &s.bound.SOCKS5},
		{"http", s.cfg.HTTPConnect, s.serveHTTPConnect, &s.bound.HTTPConnect},
	} {
		if !p.addr.IsValid() {
			continue
		}
		if !p.addr.Addr().IsLoopback() {
			s.log.Warn("userspace: a proxy listens beyond loopback; whoever reaches it reaches the overlay", "proxy", p.name, "addr", p.addr)
		}
		l, err := net.Listen("tcp", p.addr.String())
		if err != nil {
			return fmt.Errorf("userspace: %s proxy: %w; choose another address or stop what uses it", p.name, err)
		}
		*p.bound = addrPortOf(l.Addr())
		s.serveListener(l, p.name, p.serve)
	}
	s.bound.Forwards = make([]netip.AddrPort, len(s.cfg.Forwards))
	for i, f := range s.cfg.Forwards {
		addr, err := s.startForward(f)
		if err != nil {
			return err
		}
		s.bound.Forwards[i] = addr
	}
	for _, e := range s.cfg.Exposes {
		if err := s.startExpose(e); err != nil {
			return err
		}
	}
	return nil
}

// serveListener tracks l and accepts on it until Close.
func (s *Server) serveListener(l net.Listener, what string, serve func(net.Conn)) {
	if s.group.track(l) {
		s.group.spawn(func() { s.acceptLoop(l, what, serve) })
	}
}

// acceptLoop hands each connection to serve in its own goroutine, holding a
// connection slot for its life; over MaxConns it turns connections away.
func (s *Server) acceptLoop(l net.Listener, what string, serve func(net.Conn)) {
	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if s.group.isClosing() || errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), maxAcceptBackoff)
			s.warn.warn("userspace: accept failed; retrying", "listener", what, "err", err, "retry_in", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-s.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		backoff = 0
		select {
		case s.slots <- struct{}{}:
		default:
			s.refuseOverLimit(what, c)
			continue
		}
		if !s.group.track(c) {
			<-s.slots
			return
		}
		s.stats.Accepted.Add(1)
		if !s.group.spawn(func() {
			defer func() { <-s.slots }()
			defer s.group.release(c)
			serve(c)
		}) {
			<-s.slots
			return
		}
	}
}

// refuseOverLimit turns away a connection over MaxConns, with a response
// where the protocol has one to give before the client speaks.
func (s *Server) refuseOverLimit(what string, c net.Conn) {
	s.stats.OverLimit.Add(1)
	s.warn.warn("userspace: too many connections; turning one away", "listener", what, "max_conns", s.cfg.MaxConns)
	if what == "http" {
		c.SetWriteDeadline(time.Now().Add(overLimitWriteTimeout))
		c.Write(appendHTTPResponse(nil, 503, "meshnet: too many connections through this proxy; try again later"))
	}
	c.Close()
}

// badRequest counts and logs a client that broke or abandoned a handshake.
func (s *Server) badRequest(what string, c net.Conn, err error) {
	s.stats.BadRequest.Add(1)
	if err == io.ErrUnexpectedEOF {
		return // the client went away; nothing to report
	}
	s.log.Debug("userspace: refused a request", "proxy", what, "client", c.RemoteAddr(), "err", err)
}

// reportFailure logs a destination that was not reached: refusals by policy
// and unknown names as (rate-limited) warnings, the rest for debugging.
func (s *Server) reportFailure(what string, d dest, client net.Addr, f failure, err error) {
	args := []any{"via", what, "dest", d.String(), "client", client, "err", err}
	switch f {
	case failNotAllowed, failUnknownHost:
		s.warn.warn("userspace: refused: "+f.String(), args...)
	default:
		s.log.Debug("userspace: could not reach the destination", args...)
	}
}

// Bound reports where the Server listens.
func (s *Server) Bound() Bound {
	b := s.bound
	b.Forwards = append([]netip.AddrPort(nil), s.bound.Forwards...)
	return b
}

// Stats returns the Server's counters.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

// Close stops everything: listeners close, lookups and dials are cancelled,
// relays and UDP sessions are cut, and it returns once every goroutine the
// Server started has ended. Further calls do nothing.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		s.group.close()
	})
	return nil
}
