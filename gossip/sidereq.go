package gossip

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// A side request is one request and one answer on a TCP stream to the
// gossip port, outside memberlist and outside gossip encryption:
//
//	request:  0xE5 | length u16 | request bytes
//	answer:   length u16 | answer bytes
//
// 0xE5 is neither a memberlist message type nor its label marker, so the
// stream guard can tell the two apart from the first byte.
const sideRequestMsg = 0xE5

// Side request limits.
const (
	// MaxSideRequest bounds a side request.
	MaxSideRequest = 1 << 10
	// MaxSideAnswer bounds an answer; a larger one is not sent.
	MaxSideAnswer = 8 << 10
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
	var hdr [3]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		d.stats.drop(dropMalformed, 1)
		return
	}
	n := int(binary.BigEndian.Uint16(hdr[1:]))
	if n > MaxSideRequest {
		d.stats.drop(dropOversized, 1)
		return
	}
	req := make([]byte, n)
	if _, err := io.ReadFull(br, req); err != nil {
		d.stats.drop(dropMalformed, 1)
		return
	}
	ans := d.cfg.Side(req)
	if len(ans) > MaxSideAnswer {
		d.log.Error("side answer too large; not sent", "bytes", len(ans))
		return
	}
	out := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(ans)), uint16(len(ans)))
	_, _ = conn.Write(append(out, ans...))
}

// SideRequest sends req to the gossip port at addr (host:port) and returns
// the answer, or ErrNoAnswer when the peer answered nothing. The exchange
// is neither encrypted nor authenticated: the request and the answer must
// protect themselves.
func (d *DB) SideRequest(addr string, req []byte) ([]byte, error) {
	if len(req) > MaxSideRequest {
		return nil, fmt.Errorf("gossip: side request of %d bytes: at most %d", len(req), MaxSideRequest)
	}
	conn, err := d.trans.DialTimeout(addr, sideTimeout)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(sideTimeout))
	msg := binary.BigEndian.AppendUint16([]byte{sideRequestMsg}, uint16(len(req)))
	if _, err := conn.Write(append(msg, req...)); err != nil {
		return nil, err
	}
	var hdr [2]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, ErrNoAnswer
		}
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(hdr[:]))
	if n > MaxSideAnswer {
		return nil, fmt.Errorf("gossip: side answer of %d bytes: at most %d", n, MaxSideAnswer)
	}
	if n == 0 {
		return nil, ErrNoAnswer
	}
	ans := make([]byte, n)
	if _, err := io.ReadFull(conn, ans); err != nil {
		return nil, err
	}
	return ans, nil
}
