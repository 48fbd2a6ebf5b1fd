package userspace

// UDP relaying. One front socket receives every client's datagrams; each
// client gets a session with its own back connection, opened on its first
// datagram (resolving and admitting the destination then), so replies find
// their way to the right client. A session ends after UDPIdleTimeout
// without a datagram in either direction, or when its back connection fails.
//
// Goroutines: one reads the front socket (and opens sessions inline, so a
// slow lookup delays other clients' datagrams by at most ResolveTimeout);
// one per session reads its back connection. All belong to the Server's
// group; closing the tracked sockets ends them.

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// maxDatagram is the largest UDP payload; every read buffer has this size.
const maxDatagram = 65535

// udpRelay serves one front socket.
type udpRelay struct {
	s     *Server
	what  string
	front net.PacketConn
	open  func(ctx context.Context) (net.Conn, error)

	mu       sync.Mutex
	sessions map[netip.AddrPort]*udpSession // guarded by mu
}

// udpSession is one client's relay.
type udpSession struct {
	key    netip.AddrPort
	client net.Addr // as the front socket reported it, for replies
	back   net.Conn
	last   atomic.Int64 // unix nanoseconds of the last datagram either way
}

func (ss *udpSession) touch() { ss.last.Store(time.Now().UnixNano()) }

func (ss *udpSession) idle() time.Duration {
	return time.Since(time.Unix(0, ss.last.Load()))
}

// serveUDP relays datagrams arriving on pc through connections from open.
func (s *Server) serveUDP(pc net.PacketConn, what string, open func(ctx context.Context) (net.Conn, error)) {
	r := &udpRelay{s: s, what: what, front: pc, open: open, sessions: make(map[netip.AddrPort]*udpSession)}
	if s.group.track(pc) {
		s.group.spawn(r.serve)
	}
}

func (r *udpRelay) serve() {
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := r.front.ReadFrom(buf)
		if err != nil {
			if !r.s.group.isClosing() {
				r.s.log.Warn("userspace: UDP relay stopped", "relay", r.what, "err", err)
			}
			return
		}
		ss := r.session(from)
		if ss == nil {
			continue
		}
		ss.touch()
		ss.back.Write(buf[:n]) // UDP: a lost datagram is the sender's to retry
	}
}

// session returns from's session, opening one if there is room.
func (r *udpRelay) session(from net.Addr) *udpSession {
	key := addrPortOf(from)
	r.mu.Lock()
	ss, ok := r.sessions[key]
	full := len(r.sessions) >= r.s.cfg.MaxUDPSessions
	r.mu.Unlock()
	if ok {
		return ss
	}
	if full {
		r.s.stats.OverLimit.Add(1)
		r.s.warn.warn("userspace: too many UDP clients; dropping a datagram", "relay", r.what, "max_udp_sessions", r.s.cfg.MaxUDPSessions)
		return nil
	}
	back, err := r.open(r.s.ctx)
	if err != nil || !r.s.group.track(back) {
		return nil
	}
	ss = &udpSession{key: key, client: from, back: back}
	ss.touch()
	r.mu.Lock()
	r.sessions[key] = ss // only serve adds sessions, so key is still free
	r.mu.Unlock()
	r.s.stats.Accepted.Add(1)
	r.s.stats.UDPSessions.Add(1)
	if !r.s.group.spawn(func() { r.reply(ss) }) {
		r.end(ss)
		return nil
	}
	return ss
}

// reply relays ss's back connection to its client until the session idles
// out or the connection fails.
func (r *udpRelay) reply(ss *udpSession) {
	defer r.end(ss)
	idle := r.s.cfg.UDPIdleTimeout
	buf := make([]byte, maxDatagram)
	for {
		ss.back.SetReadDeadline(time.Now().Add(idle - ss.idle()))
		n, err := ss.back.Read(buf)
		if err != nil {
			if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() && ss.idle() < idle && !r.s.group.isClosing() {
				continue // the client kept the session alive
			}
			return
		}
		ss.touch()
		r.front.WriteTo(buf[:n], ss.client)
	}
}

// end forgets ss and closes its back connection.
func (r *udpRelay) end(ss *udpSession) {
	r.mu.Lock()
	delete(r.sessions, ss.key)
	r.mu.Unlock()
	r.s.stats.UDPSessions.Add(-1)
	r.s.group.release(ss.back)
}
