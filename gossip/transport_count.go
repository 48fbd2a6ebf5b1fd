package gossip

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// countingTransport wraps memberlist's transport to count every packet and
// stream byte, so Stats covers memberlist's own probes, gossip and
// push/pull, not just our messages, to pass inbound streams through the
// stream guard, and to hold outbound dials to a leave's deadline. Two
// goroutines forward incoming packets and streams; they stop when
// memberlist shuts the transport down.
type countingTransport struct {
	memberlist.NodeAwareTransport
	dialBy    atomic.Int64 // unix nanoseconds every dial ends by; 0: no bound
	c         *transportCounters
	guard     *streamGuard
	admitting sync.Map // net.Conn being read by the guard, closed on Shutdown
	packetCh  chan *memberlist.Packet
	streamCh  chan net.Conn
	done      chan struct{}
	wg        sync.WaitGroup
	once      sync.Once
}

func newCountingTransport(inner memberlist.NodeAwareTransport, c *transportCounters, g *streamGuard) *countingTransport {
	t := &countingTransport{
		NodeAwareTransport: inner,
		c:                  c,
		guard:              g,
		packetCh:           make(chan *memberlist.Packet),
		streamCh:           make(chan net.Conn),
		done:               make(chan struct{}),
	}
	t.wg.Add(2)
	go t.forwardPackets()
	go t.forwardStreams()
	return t
}

func (t *countingTransport) forwardPackets() {
	defer t.wg.Done()
	in := t.NodeAwareTransport.PacketCh()
	for {
		select {
		case <-t.done:
			return
		case p := <-in:
			t.c.packetsReceived.Add(1)
			t.c.packetBytesReceived.Add(uint64(len(p.Buf)))
			if !handOver(t.packetCh, p, t.done) {
				return
			}
		}
	}
}

func (t *countingTransport) forwardStreams() {
	defer t.wg.Done()
	in := t.NodeAwareTransport.StreamCh()
	for {
		select {
		case <-t.done:
			return
		case conn := <-in:
			t.c.streamsAccepted.Add(1)
			if !t.guard.take() {
				t.guard.refused()
				_ = conn.Close()
				continue
			}
			// The guard reads the stream's first bytes, which may take a
			// while: one goroutine per admitted stream, as memberlist's own.
			t.wg.Add(1)
			go t.admitStream(&countingConn{Conn: conn, c: t.c})
		}
	}
}

// admitStream hands conn to memberlist if the guard admits it.
func (t *countingTransport) admitStream(conn net.Conn) {
	defer t.wg.Done()
	t.admitting.Store(conn, nil)
	select {
	case <-t.done: // Shutdown may have missed the Store
		t.admitting.Delete(conn)
		_ = conn.Close()
		t.guard.release(0)
		return
	default:
	}
	c := t.guard.admit(conn)
	t.admitting.Delete(conn)
	if c == nil {
		return
	}
	if !handOver(t.streamCh, c, t.done) {
		_ = c.Close()
	}
}

// handOver sends v on ch unless stop is closed first, and reports whether
// it did.
func handOver[T any](ch chan<- T, v T, stop <-chan struct{}) bool {
	select {
	case ch <- v:
		return true
	case <-stop:
		return false
	}
}

func (t *countingTransport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }
func (t *countingTransport) StreamCh() <-chan net.Conn           { return t.streamCh }

func (t *countingTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	ts, err := t.NodeAwareTransport.WriteTo(b, addr)
	t.countPacket(b, err)
	return ts, err
}

func (t *countingTransport) WriteToAddress(b []byte, addr memberlist.Address) (time.Time, error) {
	ts, err := t.NodeAwareTransport.WriteToAddress(b, addr)
	t.countPacket(b, err)
	return ts, err
}

// countPacket counts b if writing it succeeded.
func (t *countingTransport) countPacket(b []byte, err error) {
	if err == nil {
		t.c.packetsSent.Add(1)
		t.c.packetBytesSent.Add(uint64(len(b)))
	}
}

func (t *countingTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	timeout, err := t.bounded(timeout)
	if err != nil {
		return nil, err
	}
	return t.counted(t.NodeAwareTransport.DialTimeout(addr, timeout))
}

func (t *countingTransport) DialAddressTimeout(addr memberlist.Address, timeout time.Duration) (net.Conn, error) {
	timeout, err := t.bounded(timeout)
	if err != nil {
		return nil, err
	}
	return t.counted(t.NodeAwareTransport.DialAddressTimeout(addr, timeout))
}

// errLeaveBudget is what a dial returns once a leave's budget is spent.
var errLeaveBudget = errors.New("gossip: leaving: no time left to dial")

// limitDials makes every later dial give up by deadline: memberlist dials
// with its own ten-second timeout, which a leave must not wait for when a
// peer is gone.
func (t *countingTransport) limitDials(deadline time.Time) { t.dialBy.Store(deadline.UnixNano()) }

// bounded shortens timeout to the dial bound, if one is set.
func (t *countingTransport) bounded(timeout time.Duration) (time.Duration, error) {
	by := t.dialBy.Load()
	if by == 0 {
		return timeout, nil
	}
	left := time.Until(time.Unix(0, by))
	if left <= 0 {
		return 0, errLeaveBudget
	}
	return min(timeout, left), nil
}

func (t *countingTransport) counted(conn net.Conn, err error) (net.Conn, error) {
	if err != nil {
		return nil, err
	}
	t.c.streamsOpened.Add(1)
	return &countingConn{Conn: conn, c: t.c}, nil
}

// Shutdown shuts the inner transport down first (memberlist expects it to
// block until torn down), then stops the forwarders.
func (t *countingTransport) Shutdown() error {
	err := t.NodeAwareTransport.Shutdown()
	t.once.Do(func() { close(t.done) })
	t.admitting.Range(func(c, _ any) bool {
		_ = c.(net.Conn).Close()
		return true
	})
	t.wg.Wait()
	return err
}

type countingConn struct {
	net.Conn
	c *transportCounters
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.c.streamBytesReceived.Add(uint64(n))
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.c.streamBytesSent.Add(uint64(n))
	return n, err
}
