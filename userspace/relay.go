package userspace

// TCP relaying. A relay is two copy loops, one per direction, both owned by
// the Server's group. When one side finishes sending (EOF), the other side's
// write half is closed and the other direction goes on: TCP half-close
// passes through. When either direction fails, both connections are closed,
// which ends the other loop too. Close of the Server cuts every connection
// the same way.

import (
	"io"
	"net"
	"sync"
	"time"
)

// relayBufSize is each copy loop's buffer: one per direction per relay.
const relayBufSize = 32 << 10

// bufPool hands out relay buffers; one per Server.
type bufPool struct{ p sync.Pool }

func newBufPool() *bufPool {
	return &bufPool{p: sync.Pool{New: func() any { b := make([]byte, relayBufSize); return &b }}}
}

func (p *bufPool) get() *[]byte  { return p.p.Get().(*[]byte) }
func (p *bufPool) put(b *[]byte) { p.p.Put(b) }

// relay copies between client and upstream until both directions are done
// or one fails, then closes both. Both must already be tracked by the
// group; relay releases them. It blocks until the relay is over.
func (s *Server) relay(client, upstream net.Conn) {
	defer s.group.release(client)
	defer s.group.release(upstream)
	back := make(chan struct{})
	if !s.group.spawn(func() {
		defer close(back)
		s.pipe(client, upstream, &s.stats.BytesIn)
	}) {
		return
	}
	s.pipe(upstream, client, &s.stats.BytesOut)
	<-back
}

// pipe copies src to dst. On EOF it half-closes dst; on error it cuts both,
// ending the opposite pipe.
func (s *Server) pipe(dst, src net.Conn, count interface{ Add(uint64) uint64 }) {
	buf := s.bufs.get()
	defer s.bufs.put(buf)
	// Plain Reader and Writer so that our buffer is used, not one allocated
	// by a ReaderFrom fallback.
	n, err := io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, *buf)
	count.Add(uint64(n))
	if err == nil {
		if cw, ok := dst.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			return
		}
	}
	cut(dst)
	cut(src)
}

// cut ends all I/O on c at once: an expired deadline wakes blocked reads and
// writes even where Close alone would not, then Close releases it.
func cut(c io.Closer) {
	if d, ok := c.(interface{ SetDeadline(time.Time) error }); ok {
		d.SetDeadline(time.Unix(1, 0))
	}
	c.Close()
}
