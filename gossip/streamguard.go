package gossip

import (
	"bufio"
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"meshnet.dev/meshnet/gossip/wire"
)

// Limits on inbound streams before memberlist has authenticated a byte of
// them. memberlist reads an encrypted stream message whole before it can
// check it, and accepts claims of up to 20 MiB, in a goroutine per
// connection: without these bounds anyone who can reach the gossip port
// could make a node buffer 20 MiB per connection.
const (
	// maxInboundStreams bounds the inbound streams handled at once.
	// Members open one per push/pull, join or TCP fallback probe.
	maxInboundStreams = 64
	// maxStreamClaim bounds the size an encrypted stream message may
	// claim: every message we send is below MaxMessageSize, and a push/pull
	// of 5,000 members' state is a fraction of it.
	maxStreamClaim = MaxMessageSize
	// smallStreamClaim is what a stream may claim without drawing on the
	// budget: probes, joins and push/pulls of small clusters.
	smallStreamClaim = 64 << 10
	// streamClaimBudget bounds the bytes all larger unauthenticated claims
	// add up to at once.
	streamClaimBudget = 24 << 20
	// streamPeekTimeout bounds the wait for a stream's first bytes.
	streamPeekTimeout = 5 * time.Second
)

// memberlist's stream framing, which the guard reads ahead of it: an
// optional label header, then a message type; an encrypted message carries
// its length in the next four bytes.
const (
	mlEncryptMsg  = 10  // memberlist encryptMsg
	mlHasLabelMsg = 244 // memberlist hasLabelMsg
)

// streamGuard admits inbound streams within the limits above, and hands
// side requests (sidereq.go) to their handler instead of memberlist.
type streamGuard struct {
	active  atomic.Int32
	claimed atomic.Int64
	refused func() // counts a refused stream
	side    func(net.Conn, *bufio.Reader)
	// back, if set, takes a stream a member behind a NAT opened for a
	// dial of this node's (connectback.go) and reports whether it did.
	back func(net.Conn) bool
}

// admit decides about conn: it returns the connection to hand to
// memberlist, or nil when the stream was refused or handled as a side
// request (conn is then closed or owned by the side handler). It blocks up
// to streamPeekTimeout reading the stream's first bytes, so it runs in a
// goroutine of its own; take reserves the stream's slot first.
func (g *streamGuard) admit(conn net.Conn) net.Conn {
	br := bufio.NewReader(conn)
	_ = conn.SetReadDeadline(time.Now().Add(streamPeekTimeout))
	off := 0
	b, err := br.Peek(1)
	if err == nil && b[0] == mlHasLabelMsg {
		if b, err = br.Peek(2); err == nil {
			off = 2 + int(b[1])
		}
	}
	if err == nil {
		b, err = br.Peek(off + 1)
	}
	if err != nil {
		return g.refuse(conn)
	}
	var claim int64
	switch b[off] {
	case wire.SideRequestMsg:
		if off != 0 || g.side == nil {
			return g.refuse(conn)
		}
		g.side(conn, br)
		g.release(0)
		return nil
	case wire.ConnectBackMsg:
		if off != 0 || g.back == nil {
			return g.refuse(conn)
		}
		gc := &guardedConn{Conn: conn, r: br, release: func() { g.release(0) }}
		if !g.back(gc) {
			return g.refuse(conn)
		}
		return nil
	case mlEncryptMsg:
		if b, err = br.Peek(off + 5); err != nil {
			return g.refuse(conn)
		}
		claim = int64(binary.BigEndian.Uint32(b[off+1:]))
		if claim > maxStreamClaim {
			return g.refuse(conn)
		}
	}
	if claim > smallStreamClaim && g.claimed.Add(claim) > streamClaimBudget {
		g.claimed.Add(-claim)
		return g.refuse(conn)
	}
	if claim <= smallStreamClaim {
		claim = 0
	}
	_ = conn.SetReadDeadline(time.Time{}) // memberlist sets its own
	return &guardedConn{Conn: conn, r: br, release: func() { g.release(claim) }}
}

// take reserves a slot for a new stream, or reports that all are busy.
func (g *streamGuard) take() bool {
	if g.active.Add(1) > maxInboundStreams {
		g.active.Add(-1)
		return false
	}
	return true
}

func (g *streamGuard) release(claim int64) {
	g.claimed.Add(-claim)
	g.active.Add(-1)
}

func (g *streamGuard) refuse(conn net.Conn) net.Conn {
	g.refused() // counted before the peer can see the close
	_ = conn.Close()
	g.release(0)
	return nil
}

// guardedConn replays what the guard read ahead and gives the stream's
// slot and claim back when memberlist closes it.
type guardedConn struct {
	net.Conn
	r       *bufio.Reader
	once    sync.Once
	release func()
}

func (c *guardedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

func (c *guardedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
