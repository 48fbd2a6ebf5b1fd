package gossip

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"golang.org/x/time/rate"

	"meshnet.dev/meshnet/gossip/wire"
)

// Connection reversal. A member behind a NAT takes no inbound stream, but
// memberlist and bulk sync open streams to any member: a push/pull, the
// answer to a bulk sync, a leave. So a dial to such a member asks it, in
// a sealed path message sent where its packets come from (which its NAT
// lets in), to open the stream itself; the stream it opens starts with a
// sealed hello naming the request, and the dialler hands it to memberlist
// as if it had dialled. memberlist runs unchanged on both ends.

const (
	// connectBackResend resends a request lost on the way.
	connectBackResend = time.Second
	// connectBackDialTimeout bounds the stream a member opens back.
	connectBackDialTimeout = 5 * time.Second
	// connectBackRate and connectBackBurst bound the streams a node opens
	// for members' requests: only key holders can ask, and they may ask
	// only to be dialled where their packets come from.
	connectBackRate  = 20
	connectBackBurst = 40
)

var errNoConnectBack = errors.New("no path messages on this transport")

// connectBack holds a netTransport's connect-back state.
type connectBack struct {
	seal    *pathSealer
	self    netip.AddrPort // this node's advertised gossip address
	limiter *rate.Limiter
	waiting map[uint64]chan net.Conn // guarded by the transport's routesMu
}

// enableConnectBack lets the transport reach members behind a NAT by
// connection reversal, and answer their requests. Called once, before
// memberlist starts.
func (t *netTransport) enableConnectBack(seal *pathSealer, self netip.AddrPort) {
	t.routesMu.Lock()
	defer t.routesMu.Unlock()
	t.back = &connectBack{seal: seal, self: self, limiter: rate.NewLimiter(connectBackRate, connectBackBurst),
		waiting: make(map[uint64]chan net.Conn)}
}

// dialBack asks the member behind a NAT at r to open a stream to this
// node, and waits for it.
func (t *netTransport) dialBack(r memberRoute, timeout time.Duration) (net.Conn, error) {
	t.routesMu.Lock()
	b := t.back
	if b == nil {
		t.routesMu.Unlock()
		return nil, errNoConnectBack
	}
	id := rand.Uint64()
	ch := make(chan net.Conn, 1)
	b.waiting[id] = ch
	t.routesMu.Unlock()
	defer func() {
		t.routesMu.Lock()
		delete(b.waiting, id)
		t.routesMu.Unlock()
	}()
	msg, err := b.seal.seal(nil, wire.AppendPathBody(nil, wire.PathBody{Kind: wire.ConnectBack, ID: id, Addr: b.self}))
	if err != nil {
		return nil, err
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	resend := time.NewTicker(connectBackResend)
	defer resend.Stop()
	for {
		if _, err := t.udp.WriteToUDPAddrPort(msg, r.to); err != nil {
			return nil, err
		}
		select {
		case c := <-ch:
			return c, nil
		case <-resend.C:
		case <-deadline.C:
			return nil, fmt.Errorf("the member behind a NAT at %s did not open a stream back within %s", r.to, timeout)
		case <-t.stop:
			return nil, net.ErrClosed
		}
	}
}

// acceptBack reads a connect-back hello from conn and, if it answers a
// dial waiting here, hands conn to that dial. It reports whether it did;
// otherwise the caller closes conn.
func (t *netTransport) acceptBack(conn net.Conn) bool {
	t.routesMu.Lock()
	b := t.back
	t.routesMu.Unlock()
	if b == nil {
		return false
	}
	var hello [helloLen]byte
	if _, err := io.ReadFull(conn, hello[:]); err != nil {
		return false
	}
	var scratch [8 + pathTagLen]byte
	body, err := b.seal.openAs(scratch[:0], wire.ConnectBackMsg, hello[:], helloAAD)
	if err != nil || len(body) != 8 {
		return false
	}
	id := binary.BigEndian.Uint64(body)
	t.routesMu.Lock()
	ch := b.waiting[id]
	delete(b.waiting, id)
	t.routesMu.Unlock()
	if ch == nil {
		return false
	}
	_ = conn.SetReadDeadline(time.Time{}) // memberlist sets its own
	ch <- conn                            // buffered, and only this id's hello gets here
	return true
}

// answerBack opens the stream a member asked for with a ConnectBack
// request, to the gossip port its request came from, and hands it to
// memberlist as an inbound stream. It reports whether it started.
func (t *netTransport) answerBack(id uint64, from netip.AddrPort) bool {
	t.routesMu.Lock()
	b := t.back
	t.routesMu.Unlock()
	if b == nil || !b.limiter.Allow() {
		return false
	}
	var idb [8]byte
	binary.BigEndian.PutUint64(idb[:], id)
	hello, err := b.seal.sealAs(nil, wire.ConnectBackMsg, idb[:], helloAAD)
	if err != nil {
		return false
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		ctx, cancel := context.WithTimeout(t.ctx, connectBackDialTimeout)
		defer cancel()
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", from.String())
		if err != nil {
			t.log("[WARN] memberlist: cannot open the stream a member asked for at %s: %v", from, err)
			return
		}
		if _, err := c.Write(hello); err != nil {
			c.Close()
			return
		}
		if !handOver[net.Conn](t.streamCh, c, t.stop) {
			c.Close()
		}
	}()
	return true
}
