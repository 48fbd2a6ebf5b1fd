package memnet

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Transport is one node's attachment to a Network; it implements
// memberlist.NodeAwareTransport.
type Transport struct {
	net      *Network
	name     string
	addr     netip.AddrPort
	counters *counters
	packetCh chan *memberlist.Packet
	streamCh chan net.Conn
	done     chan struct{}
	once     sync.Once
}

var _ memberlist.NodeAwareTransport = (*Transport)(nil)

var (
	errRefused = errors.New("memnet: connection refused")
	errTimeout = errors.New("memnet: connection timed out")
	errClosed  = errors.New("memnet: transport is shut down")
)

// Addr is the transport's address.
func (t *Transport) Addr() netip.AddrPort { return t.addr }

// FinalAdvertiseAddr returns the transport's own address; what memberlist
// was configured with is ignored, as the network assigns addresses.
func (t *Transport) FinalAdvertiseAddr(string, int) (net.IP, int, error) {
	return net.IP(t.addr.Addr().AsSlice()), int(t.addr.Port()), nil
}

// WriteTo sends a packet to addr.
func (t *Transport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress sends a packet, best effort: like UDP, a packet that is
// lost is not an error.
func (t *Transport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	now := time.Now()
	if t.isClosed() {
		return now, errClosed
	}
	t.counters.packetsSent.Add(1)
	t.counters.packetBytesSent.Add(uint64(len(b)))
	dest, delay := t.net.route(t.name, a.Addr, a.Name)
	if dest == nil || !t.net.passes(t.name, dest.name, b) {
		t.counters.packetsLost.Add(1)
		return now, nil
	}
	p := &memberlist.Packet{Buf: append([]byte(nil), b...), From: t.udpAddr()}
	if delay <= 0 {
		t.deliver(dest, p)
	} else {
		time.AfterFunc(delay, func() { t.deliver(dest, p) })
	}
	return now, nil
}

func (t *Transport) deliver(dest *Transport, p *memberlist.Packet) {
	if dest.isClosed() || !t.net.reachable(t.name, dest.name) {
		t.counters.packetsLost.Add(1)
		return
	}
	p.Timestamp = time.Now()
	select {
	case dest.packetCh <- p:
		dest.counters.packetsReceived.Add(1)
		dest.counters.packetBytesReceived.Add(uint64(len(p.Buf)))
	default:
		t.counters.packetsLost.Add(1)
	}
}

// PacketCh delivers incoming packets.
func (t *Transport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }

// DialTimeout opens a stream to addr.
func (t *Transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout opens a stream. An unknown address or a node that is
// gone refuses at once; an unreachable one (partitioned, crashed) times out
// after timeout, as a black-holed TCP connect would.
func (t *Transport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if t.isClosed() {
		return nil, errClosed
	}
	dest := t.net.lookup(a.Addr)
	if dest == nil || dest.isClosed() || (a.Name != "" && dest.name != a.Name) {
		return nil, &dialError{errRefused, a.Addr, ""}
	}
	if !t.net.reachable(t.name, dest.name) {
		time.Sleep(timeout)
		return nil, &dialError{errTimeout, a.Addr, ""}
	}
	if rtt := t.net.delay(t.name, dest.name) + t.net.delay(dest.name, t.name); rtt > 0 {
		time.Sleep(min(rtt, timeout))
	}
	local, remote := net.Pipe()
	client := &conn{Conn: local, net: t.net, self: t, peer: dest}
	server := &conn{Conn: remote, net: t.net, self: dest, peer: t}
	select {
	case dest.streamCh <- server:
	default:
		return nil, &dialError{errRefused, a.Addr, " backlog full"}
	}
	t.counters.streamsOpened.Add(1)
	return client, nil
}

// dialError is a failed dial to addr. It is built without fmt, as real
// sockets build theirs: fmt's printer pool makes goroutines that format
// errors look synchronized to the race detector, which would hide races
// in the code under test.
type dialError struct {
	err    error
	addr   string
	detail string
}

func (e *dialError) Error() string { return e.err.Error() + ": " + e.addr + e.detail }
func (e *dialError) Unwrap() error { return e.err }

// StreamCh delivers incoming streams.
func (t *Transport) StreamCh() <-chan net.Conn { return t.streamCh }

// Shutdown detaches the transport: its address stops answering.
func (t *Transport) Shutdown() error {
	t.once.Do(func() {
		close(t.done)
		t.net.forget(t)
	})
	return nil
}

func (t *Transport) isClosed() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

func (t *Transport) udpAddr() *net.UDPAddr {
	return net.UDPAddrFromAddrPort(t.addr)
}
