package gossip

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"time"

	"meshnet.dev/meshnet/gossip/wire"
)

// Side requests (framing in package wire) are one request and one answer
// on a TCP stream to the gossip port, outside memberlist and outside
// gossip encryption, for what must work when the gossip keys do not.
const (
	// MaxSideRequest bounds a side request.
	MaxSideRequest = wire.MaxSideRequest
	// MaxSideAnswer bounds an answer; a larger one is not sent.
	MaxSideAnswer = wire.MaxSideAnswer
	// sideTimeout bounds a whole side exchange.
	sideTimeout = 5 * time.Second
)

// ErrNoAnswer: the peer had nothing to say to a side request (or does not
// serve them).
var ErrNoAnswer = errors.New("gossip: no answer to the side request")

// serveSide answers one side request on conn, whose first bytes br holds,
// and closes conn.
func (d *DB) serveSide(conn net.Conn, br *bufio.Reader) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(sideTimeout))
	req, err := wire.ReadSideRequest(br)
	if err != nil {
		d.stats.drop(dropReasonFor(err), 1)
		return
	}
	out, err := wire.AppendSideAnswer(nil, d.cfg.Side(req))
	if err != nil {
		d.log.Error("side answer not sent", "err", err)
		return
	}
	_, _ = conn.Write(out)
}

// SideRequest sends req to the gossip port at addr (host:port) and returns
// the answer, or ErrNoAnswer when the peer answered nothing. The exchange
// is neither encrypted nor authenticated: the request and the answer must
// protect themselves.
func (d *DB) SideRequest(addr string, req []byte) ([]byte, error) {
	msg, err := wire.AppendSideRequest(nil, req)
	if err != nil {
		return nil, fmt.Errorf("gossip: %w", err)
	}
	conn, err := d.trans.DialTimeout(addr, sideTimeout)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(sideTimeout))
	if _, err := conn.Write(msg); err != nil {
		return nil, err
	}
	ans, err := wire.ReadSideAnswer(conn)
	switch {
	case err != nil:
		return nil, fmt.Errorf("gossip: %w", err)
	case len(ans) == 0:
		return nil, ErrNoAnswer
	}
	return ans, nil
}
