package lb

// DNS server lifecycle. Every listener and packet conn gets one serving
// goroutine; every TCP connection one more; every forwarded UDP query one
// more while it waits for the upstream. All are owned by the server: Close
// cancels forwards, closes every socket and waits for them to return.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// DNSServer answers DNS for services, endpoints and nodes.
type DNSServer struct {
	cfg      DNSConfig
	domain   string
	services ServiceSource
	records  Records
	log      *slog.Logger
	rr       atomic.Uint32 // rotates dnsrr answers
	forwards chan struct{} // semaphore for forwarded UDP queries
	stats    dnsCounters

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	sockets []io.Closer
	conns   map[net.Conn]struct{}
	addrs   []net.Addr
}

// NewDNSServer makes a server answering from services (a Balancer) and
// records (endpoints and nodes); either may be nil. It serves nothing until
// Listen or Start* is called.
func NewDNSServer(cfg DNSConfig, services ServiceSource, records Records) (*DNSServer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &DNSServer{
		cfg:      cfg,
		domain:   canonicalDomain(cfg.Domain),
		services: services,
		records:  records,
		log:      cfg.Logger.With("component", "dns"),
		forwards: make(chan struct{}, cfg.MaxForwards),
		ctx:      ctx,
		cancel:   cancel,
		conns:    map[net.Conn]struct{}{},
	}, nil
}

// Listen serves UDP and TCP on each address at the configured port. On
// error nothing new is left listening.
func (s *DNSServer) Listen(addrs []netip.Addr) error {
	var opened []io.Closer
	type pair struct {
		pc net.PacketConn
		l  net.Listener
	}
	var pairs []pair
	for _, a := range addrs {
		ap := netip.AddrPortFrom(a, s.cfg.Port)
		pc, err := net.ListenPacket("udp", ap.String())
		if err != nil {
			closeAll(opened)
			return fmt.Errorf("dns: listening on udp %s: %w", ap, err)
		}
		opened = append(opened, pc)
		// With port 0 the TCP side takes the port UDP was given.
		port := pc.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", net.JoinHostPort(a.String(), strconv.Itoa(port)))
		if err != nil {
			closeAll(opened)
			return fmt.Errorf("dns: listening on tcp %s: %w", ap, err)
		}
		opened = append(opened, l)
		pairs = append(pairs, pair{pc, l})
	}
	for _, p := range pairs {
		if err := s.StartPacketConn(p.pc); err != nil {
			closeAll(opened)
			return err
		}
		if err := s.StartListener(p.l); err != nil {
			closeAll(opened)
			return err
		}
	}
	return nil
}

func closeAll(cs []io.Closer) {
	for _, c := range cs {
		_ = c.Close()
	}
}

// Addrs returns the addresses being served, UDP and TCP.
func (s *DNSServer) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]net.Addr(nil), s.addrs...)
}

// track registers a socket to close on Close; it fails once closed.
func (s *DNSServer) track(c io.Closer, addr net.Addr) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("dns: server is closed")
	}
	s.sockets = append(s.sockets, c)
	s.addrs = append(s.addrs, addr)
	s.wg.Add(1)
	return nil
}

// StartPacketConn serves queries arriving on pc (a UDP socket, or one from
// a userspace network stack) until Close. The server takes ownership of pc.
func (s *DNSServer) StartPacketConn(pc net.PacketConn) error {
	if err := s.track(pc, pc.LocalAddr()); err != nil {
		return err
	}
	go s.servePacketConn(pc)
	return nil
}

// StartListener serves DNS over TCP connections accepted from l until
// Close. The server takes ownership of l.
func (s *DNSServer) StartListener(l net.Listener) error {
	if err := s.track(l, l.Addr()); err != nil {
		return err
	}
	go s.serveListener(l)
	return nil
}

// Close stops serving and waits for every goroutine of the server.
func (s *DNSServer) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.cancel()
	for _, c := range s.sockets {
		_ = c.Close()
	}
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

func (s *DNSServer) servePacketConn(pc net.PacketConn) {
	defer s.wg.Done()
	buf := make([]byte, MaxDNSQuerySize+1)
	var backoff time.Duration
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = s.pause(backoff, "dns udp read failed", err)
			continue
		}
		backoff = 0
		if n > MaxDNSQuerySize {
			s.stats.queries.Add(1)
			s.stats.dropped.Add(1)
			continue
		}
		reply, fwd, size := s.process(buf[:n], false)
		if fwd != nil {
			s.forwardUDP(pc, from, fwd, size)
			continue
		}
		if reply != nil {
			_, _ = pc.WriteTo(reply, from)
		}
	}
}

// forwardUDP answers a forwarded query from its own goroutine, or at once
// with SERVFAIL when too many are in flight.
func (s *DNSServer) forwardUDP(pc net.PacketConn, to net.Addr, req *dns.Msg, size int) {
	select {
	case s.forwards <- struct{}{}:
	default:
		s.stats.forwardFailed.Add(1)
		_, _ = pc.WriteTo(s.fail(req, dns.RcodeServerFailure, size, false), to)
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { <-s.forwards }()
		if reply := s.forward(s.ctx, req, size, false); s.ctx.Err() == nil {
			_, _ = pc.WriteTo(reply, to)
		}
	}()
}

func (s *DNSServer) serveListener(l net.Listener) {
	defer s.wg.Done()
	slots := make(chan struct{}, s.cfg.MaxTCPConns)
	var backoff time.Duration
	for {
		select {
		case slots <- struct{}{}: // wait for a free connection slot
		case <-s.ctx.Done():
			return
		}
		c, err := l.Accept()
		if err != nil {
			<-slots
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = s.pause(backoff, "dns tcp accept failed", err)
			continue
		}
		backoff = 0
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = c.Close()
			<-slots
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer func() { <-slots }()
			s.serveConn(c)
		}()
	}
}

// serveConn answers length-prefixed queries on one TCP connection.
func (s *DNSServer) serveConn(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		_ = c.Close()
	}()
	buf := make([]byte, 2+MaxDNSQuerySize)
	for range dnsTCPMaxQueries {
		_ = c.SetReadDeadline(time.Now().Add(dnsTCPIdleTimeout))
		if _, err := io.ReadFull(c, buf[:2]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(buf[:2]))
		if n > MaxDNSQuerySize {
			s.stats.queries.Add(1)
			s.stats.dropped.Add(1)
			return
		}
		if _, err := io.ReadFull(c, buf[2:2+n]); err != nil {
			return
		}
		reply, fwd, size := s.process(buf[2:2+n], true)
		if fwd != nil {
			reply = s.forward(s.ctx, fwd, size, true)
		}
		if reply == nil {
			return
		}
		out := make([]byte, 2+len(reply))
		binary.BigEndian.PutUint16(out, uint16(len(reply)))
		copy(out[2:], reply)
		_ = c.SetWriteDeadline(time.Now().Add(dnsWriteTimeout))
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

// pause backs off after a socket error that is not the socket closing, so
// a persistent error (out of file descriptors, say) does not spin.
func (s *DNSServer) pause(prev time.Duration, msg string, err error) time.Duration {
	d := min(max(2*prev, 5*time.Millisecond), time.Second)
	s.log.Warn(msg, "err", err, "retry_in", d)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.ctx.Done():
	}
	return d
}

// DNSStats counts queries by outcome.
type DNSStats struct {
	Queries       uint64 // all queries received
	Local         uint64 // answered from services, endpoints and nodes
	Forwarded     uint64 // sent upstream
	ForwardFailed uint64 // upstreams failed or too many in flight: SERVFAIL
	Refused       uint64 // outside the domain with no upstream
	FormErr       uint64 // malformed queries answered with FORMERR
	Dropped       uint64 // unanswerable: too short, too large, or a response
}

type dnsCounters struct {
	queries, local, forwarded, forwardFailed, refused, formErr, dropped atomic.Uint64
}

// Stats returns the query counters.
func (s *DNSServer) Stats() DNSStats {
	c := &s.stats
	return DNSStats{
		Queries: c.queries.Load(), Local: c.local.Load(), Forwarded: c.forwarded.Load(),
		ForwardFailed: c.forwardFailed.Load(), Refused: c.refused.Load(),
		FormErr: c.formErr.Load(), Dropped: c.dropped.Load(),
	}
}
