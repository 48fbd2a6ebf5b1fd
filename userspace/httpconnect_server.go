package userspace

import (
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// serveHTTPConnect runs one HTTP proxy client: one CONNECT request, then the
// relay. Every refusal is a complete response that says what to do.
func (s *Server) serveHTTPConnect(c net.Conn) {
	c.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	r := msgReader{c: c, buf: make([]byte, maxHTTPHeaderBytes)}
	var d dest
	err := r.next(func(b []byte) (int, error) {
		var n int
		var err error
		d, n, err = parseConnectRequest(b)
		return n, err
	})
	if err != nil {
		if he := (*httpError)(nil); errors.As(err, &he) {
			refuseHTTP(c, he.status, he.msg)
		} else if errors.Is(err, errTooLong) {
			refuseHTTP(c, http.StatusRequestHeaderFieldsTooLarge, "the request header is too large")
		}
		s.badRequest("http", c, err)
		return
	}
	up, f, err := s.connect(s.ctx, "tcp", d)
	if err != nil {
		refuseHTTP(c, httpStatusFor(f), "meshnet: "+d.String()+": "+f.String())
		s.reportFailure("http", d, c.RemoteAddr(), f, err)
		return
	}
	if !s.group.track(up) {
		return
	}
	if _, err := c.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		s.group.release(up)
		return
	}
	s.startRelay(c, up, r.rest())
}

// Lingering close: after an error response, read and discard what the
// client is still sending, briefly, so that closing with unread data (which
// sends a reset) does not destroy the response before the client reads it.
const (
	lingerTimeout = 500 * time.Millisecond
	lingerBytes   = 64 << 10
)

// refuseHTTP sends an error response and closes c's write side gently.
func refuseHTTP(c net.Conn, status int, msg string) {
	if _, err := c.Write(appendHTTPResponse(nil, status, msg)); err != nil {
		return
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(lingerTimeout))
	io.Copy(io.Discard, io.LimitReader(c, lingerBytes))
}
