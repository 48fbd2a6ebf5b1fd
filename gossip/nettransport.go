package gossip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"meshnet.dev/meshnet/gossip/wire"
)

// netTransport is memberlist's transport over real sockets: UDP for
// packets, TCP for streams, on one port. It differs from memberlist's own
// NetTransport in what it costs a stranger to send junk: that one reads
// every datagram into a fresh 64 KiB buffer, so a flood of junk turned into
// gigabytes a second of garbage and a heap several times its size. This one
// reads into one reused buffer, drops datagrams no member ever sends before
// copying anything, and copies the rest into a buffer of their own size.
type netTransport struct {
	netHooks
	udp      *net.UDPConn
	tcp      *net.TCPListener
	packetCh chan *memberlist.Packet
	streamCh chan net.Conn
	closed   atomic.Bool
	stop     chan struct{}   // closed by Shutdown
	ctx      context.Context // cancelled by Shutdown, ending dials
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	routesMu sync.Mutex
	routes   map[netip.AddrPort]memberRoute // advertised address -> where it sends from
	back     *connectBack                   // nil until enableConnectBack
}

// memberRoute is where a member behind a NAT sends from, and when that
// was last seen.
type memberRoute struct {
	to   netip.AddrPort
	seen time.Time
	nat  bool // the member is behind a NAT: no stream gets in
}

// routeTTL forgets a route not refreshed: members behind NAT refresh it
// with every observe round (observeInterval).
const routeTTL = 3 * observeInterval

const (
	// maxGossipPacket bounds the datagrams accepted: memberlist never
	// sends one larger than its UDPBufferSize (1400 bytes) plus label, CRC
	// and encryption overheads.
	maxGossipPacket = 2048
	// udpReadBuffer is the socket receive buffer asked for, so bursts of
	// gossip are not dropped by the kernel while the reader is busy.
	udpReadBuffer = 2 << 20
)

// netHooks are what a netTransport reports to, and how it checks packets.
type netHooks struct {
	oversized func() // counts a datagram too large to be gossip
	// auth, if set, drops datagrams not sealed with a gossip key;
	// rejected counts them.
	auth     *packetAuth
	rejected func()
	// path, if set, takes meshnet's own path messages (wire.PathMsg),
	// which memberlist never sees.
	path func(b []byte, from netip.AddrPort)
	log  func(format string, args ...any)
}

// listenNet binds UDP and TCP on addr:port. With port 0 the kernel picks a
// TCP port and UDP is bound to the same one, retried a few times since the
// UDP port may be taken.
func listenNet(addr string, port int, hooks netHooks) (*netTransport, error) {
	ip := net.ParseIP(addr)
	if ip == nil {
		return nil, fmt.Errorf("bind address %q is not an IP address", addr)
	}
	tries := 1
	if port == 0 {
		tries = 10
	}
	var err error
	for range tries {
		var tcp *net.TCPListener
		if tcp, err = net.ListenTCP("tcp", &net.TCPAddr{IP: ip, Port: port}); err != nil {
			continue
		}
		p := tcp.Addr().(*net.TCPAddr).Port
		var udp *net.UDPConn
		if udp, err = net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: p}); err != nil {
			tcp.Close()
			continue
		}
		_ = udp.SetReadBuffer(udpReadBuffer) // best effort: the kernel may cap it
		t := &netTransport{
			netHooks: hooks,
			udp:      udp, tcp: tcp,
			packetCh: make(chan *memberlist.Packet),
			streamCh: make(chan net.Conn),
			stop:     make(chan struct{}),
		}
		t.ctx, t.cancel = context.WithCancel(context.Background())
		t.wg.Add(2)
		go t.readPackets()
		go t.acceptStreams()
		return t, nil
	}
	return nil, err
}

// port is the port both sockets are bound to.
func (t *netTransport) port() int { return t.tcp.Addr().(*net.TCPAddr).Port }

func (t *netTransport) readPackets() {
	defer t.wg.Done()
	buf := make([]byte, maxGossipPacket+1) // one more: a full read means too long
	for {
		// ReadFromUDPAddrPort allocates nothing: a flood of junk, dropped
		// below, makes no garbage for the collector to chase.
		n, ap, err := t.udp.ReadFromUDPAddrPort(buf)
		ts := time.Now()
		if err != nil {
			if t.closed.Load() {
				return
			}
			t.log("[ERR] memberlist: Error reading UDP packet: %v", err)
			continue
		}
		if n > maxGossipPacket {
			t.oversized()
			continue
		}
		if n < 1 {
			t.log("[ERR] memberlist: UDP packet too short (%d bytes) from=%s", n, ap)
			continue
		}
		if buf[0] == wire.PathMsg {
			if t.path != nil {
				t.path(buf[:n], netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
			} else if t.rejected != nil {
				t.rejected()
			}
			continue
		}
		if t.auth != nil && !t.auth.ok(buf[:n]) {
			t.rejected()
			continue
		}
		from := net.UDPAddrFromAddrPort(netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
		p := &memberlist.Packet{Buf: append([]byte(nil), buf[:n]...), From: from, Timestamp: ts}
		if !handOver(t.packetCh, p, t.stop) {
			return
		}
	}
}

func (t *netTransport) acceptStreams() {
	defer t.wg.Done()
	backoff := 5 * time.Millisecond
	for {
		c, err := t.tcp.AcceptTCP()
		if err != nil {
			if t.closed.Load() {
				return
			}
			// Out of descriptors, typically: wait rather than spin.
			t.log("[ERR] memberlist: Error accepting TCP connection: %v", err)
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		if !handOver[net.Conn](t.streamCh, c, t.stop) {
			c.Close()
			return
		}
	}
}

var errNoAdvertise = errors.New("no advertise address: set one, or bind to a specific address")

// FinalAdvertiseAddr is the given address, or the bound one.
func (t *netTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	if ip != "" {
		a := net.ParseIP(ip)
		if a == nil {
			return nil, 0, fmt.Errorf("advertise address %q is not an IP address", ip)
		}
		if a4 := a.To4(); a4 != nil {
			a = a4
		}
		return a, port, nil
	}
	bound := t.tcp.Addr().(*net.TCPAddr).IP
	if bound.IsUnspecified() {
		return nil, 0, errNoAdvertise
	}
	return bound, t.port(), nil
}

func (t *netTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		ua, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			return time.Time{}, err
		}
		ap = ua.AddrPort()
	}
	if r, ok := t.routeTo(ap); ok {
		ap = r.to
	}
	_, err = t.udp.WriteToUDPAddrPort(b, ap)
	return time.Now(), err
}

// route records that the member advertising adv sends from from, and
// whether it is behind a NAT; a member seen at its own address and not
// behind one needs no route.
func (t *netTransport) route(adv, from netip.AddrPort, nat bool) {
	t.routesMu.Lock()
	defer t.routesMu.Unlock()
	if adv == from && !nat {
		delete(t.routes, adv)
		return
	}
	if t.routes == nil {
		t.routes = make(map[netip.AddrPort]memberRoute)
	}
	t.routes[adv] = memberRoute{to: from, seen: time.Now(), nat: nat}
}

// routeTo returns the route to what memberlist addresses to adv.
func (t *netTransport) routeTo(adv netip.AddrPort) (memberRoute, bool) {
	t.routesMu.Lock()
	defer t.routesMu.Unlock()
	r, ok := t.routes[adv]
	if ok && time.Since(r.seen) > routeTTL {
		delete(t.routes, adv)
		return memberRoute{}, false
	}
	return r, ok
}

// writePath sends a path message from the gossip socket, so that the
// answer tells what a member sees of it.
func (t *netTransport) writePath(b []byte, to netip.AddrPort) error {
	_, err := t.udp.WriteToUDPAddrPort(b, to)
	return err
}

func (t *netTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	return t.WriteTo(b, a.Addr)
}

func (t *netTransport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }

// DialTimeout opens a stream; Shutdown abandons a dial still under way (a
// peer that has gone from the network would hold it for the timeout).
func (t *netTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		if r, ok := t.routeTo(ap); ok && r.nat {
			// A NAT lets no stream in: the member opens it.
			return t.dialBack(r, timeout)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	stop := context.AfterFunc(t.ctx, cancel)
	defer stop()
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

func (t *netTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	return t.DialTimeout(a.Addr, timeout)
}

func (t *netTransport) StreamCh() <-chan net.Conn { return t.streamCh }

// Shutdown closes both sockets and waits for the loops to end.
func (t *netTransport) Shutdown() error {
	if t.closed.Swap(true) {
		return nil
	}
	close(t.stop)
	t.cancel()
	t.tcp.Close()
	t.udp.Close()
	t.wg.Wait()
	return nil
}
