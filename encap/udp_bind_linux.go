package encap

// udpBind: meshnet's batched UDP I/O, a conn.Bind for both transports (the
// plain one uses it directly, the embedded WireGuard device through the
// Bind interface).
//
// Two sockets on one port, IPv4 and IPv6 (v6-only), each in the Go runtime
// poller, driven with raw recvmmsg(2) and sendmmsg(2):
//
//   - Send gathers: a run of equal-sized packets to one destination (the
//     last may be shorter) becomes one message whose iovecs point at the
//     caller's packets, with UDP_SEGMENT set, so the kernel builds the
//     whole run as one GSO datagram straight from the packets. Nothing is
//     copied into a staging buffer (the standard bind copies every packet
//     of a run behind the first).
//   - Receive reads with UDP_GRO on: one message may hold up to 64
//     datagrams of one flow, which are split into the caller's buffers. To
//     be sure they fit, a batch of n buffers reads at most n/64 messages
//     into its last buffers, as the standard bind does.
//   - Endpoints come from a per-socket cache (one goroutine receives on a
//     socket), so receiving does not allocate per datagram, and they
//     remember the local address a peer reached (IP_PKTINFO) so replies
//     leave from it (sticky sockets).
//
// Locking: mu guards opening and closing. A socket's receive state
// belongs to the one goroutine calling its ReceiveFunc; every Send takes
// its own scratch from a pool. The poller callbacks are bound once per
// scratch, so nothing allocates per call.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/conn"
)

const (
	// udpBatch is the most packets one Send takes and one receive returns
	// (a bind made with a smaller batch takes fewer). Each receive buffer
	// is a 64 KiB one, so the batch is what a reader holds per socket: 64
	// reads a whole GRO message, where the kernel's segment limit ends
	// anyway (docs/PERFORMANCE.md).
	udpBatch = udpMaxSegs
	// udpMaxSegs is the kernel's limit of datagrams per GSO send and per
	// GRO message.
	udpMaxSegs = maxUDPSegments
	// udpSocketBuffer is the socket buffer size asked for, as wireguard-go
	// does; beyond net.core.[rw]mem_max only with CAP_NET_ADMIN.
	udpSocketBuffer = 7 << 20
	// Largest UDP payloads over IPv4 and IPv6 (a GSO run must fit one).
	maxUDPPayload4 = 1<<16 - 1 - 20 - 8
	maxUDPPayload6 = 1<<16 - 1 - 8
	// udpOOBLen holds a UDP_GRO or UDP_SEGMENT message and a packet-info
	// message.
	udpOOBLen = 64
)

// udpBindConfig configures a udpBind.
type udpBindConfig struct {
	// noOffload turns UDP GSO and GRO off.
	noOffload bool
	// batch is BatchSize, 1 to udpBatch; 0 means udpBatch.
	batch int
	// ipv4Only opens no IPv6 socket: a node whose underlay is IPv4
	// listens there alone, as its gossip does, and a reader it never
	// needs would hold its batch of buffers for good.
	ipv4Only bool
}

// udpBind is a conn.Bind over an IPv4 and an IPv6 UDP socket.
type udpBind struct {
	cfg  udpBindConfig
	mu   sync.Mutex // guards v4, v6 and open/close
	v4   *udpSocket
	v6   *udpSocket
	send sync.Pool // *udpSendScratch
}

var _ conn.Bind = (*udpBind)(nil)

func newUDPBind(cfg udpBindConfig) *udpBind {
	if cfg.batch <= 0 || cfg.batch > udpBatch {
		cfg.batch = udpBatch
	}
	b := &udpBind{cfg: cfg}
	b.send.New = func() any { return newUDPSendScratch() }
	return b
}

// udpSocket is one open socket.
type udpSocket struct {
	conn   *net.UDPConn
	rc     syscall.RawConn
	v6     bool
	laddr  string
	closed atomic.Bool
	txGSO  atomic.Bool // UDP_SEGMENT works; cleared when the kernel refuses it
	rxGRO  bool

	rx udpRecvState // owned by the goroutine calling the socket's ReceiveFunc
}

// udpRecvState is one socket's receive scratch.
type udpRecvState struct {
	msgs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
	oob   [][udpOOBLen]byte
	eps   udpEndpointCache
	carry udpCarry
	fn    func(fd uintptr) bool // read, bound once
	start int                   // first message of the read in progress
	end   int                   // end of its messages
	n     int                   // messages read
	err   error
}

// Open listens on port over IPv4 and IPv6, or IPv4 alone (any free port
// for 0, the same for both), and returns one receive function per socket.
func (b *udpBind) Open(port uint16) ([]conn.ReceiveFunc, uint16, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.v4 != nil || b.v6 != nil {
		return nil, 0, conn.ErrBindAlreadyOpen
	}
	for tries := 0; ; tries++ {
		v4, p, err := b.listen("udp4", int(port))
		if err != nil && !errors.Is(err, syscall.EAFNOSUPPORT) {
			return nil, 0, err
		}
		var v6 *udpSocket
		p6 := p
		if !b.cfg.ipv4Only {
			v6, p6, err = b.listen("udp6", p)
		}
		if port == 0 && errors.Is(err, syscall.EADDRINUSE) && tries < 100 {
			if v4 != nil {
				v4.conn.Close()
			}
			continue
		}
		if err != nil && !errors.Is(err, syscall.EAFNOSUPPORT) {
			if v4 != nil {
				v4.conn.Close()
			}
			return nil, 0, err
		}
		if v4 == nil && v6 == nil {
			return nil, 0, syscall.EAFNOSUPPORT
		}
		if v4 == nil {
			p = p6
		}
		var fns []conn.ReceiveFunc
		for _, s := range []*udpSocket{v4, v6} {
			if s != nil {
				fns = append(fns, s.receive)
			}
		}
		b.v4, b.v6 = v4, v6
		return fns, uint16(p), nil
	}
}

// listen opens one socket of network ("udp4" or "udp6") on port, with the
// options meshnet wants, and returns it and its port.
func (b *udpBind) listen(network string, port int) (*udpSocket, int, error) {
	v6 := network == "udp6"
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		cerr := c.Control(func(fd uintptr) { err = b.setOptions(int(fd), v6) })
		return errors.Join(cerr, err)
	}}
	pc, err := lc.ListenPacket(context.Background(), network, ":"+strconv.Itoa(port))
	if err != nil {
		return nil, 0, err
	}
	uc := pc.(*net.UDPConn)
	s := &udpSocket{conn: uc, v6: v6, laddr: uc.LocalAddr().String()}
	if s.rc, err = uc.SyscallConn(); err != nil {
		uc.Close()
		return nil, 0, err
	}
	_ = s.rc.Control(func(fd uintptr) {
		_, errSeg := unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT)
		s.txGSO.Store(errSeg == nil && !b.cfg.noOffload)
		gro, errGRO := unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO)
		s.rxGRO = errGRO == nil && gro == 1
	})
	s.rx = newUDPRecvState()
	s.rx.fn = s.readLocked
	return s, uc.LocalAddr().(*net.UDPAddr).Port, nil
}

// setOptions prepares a socket before it is bound.
func (b *udpBind) setOptions(fd int, v6 bool) error {
	for _, o := range [][2]int{{unix.SO_RCVBUF, udpSocketBuffer}, {unix.SO_SNDBUF, udpSocketBuffer},
		{unix.SO_RCVBUFFORCE, udpSocketBuffer}, {unix.SO_SNDBUFFORCE, udpSocketBuffer}} {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, o[0], o[1]) // larger buffers only help
	}
	if v6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1); err != nil {
			return fmt.Errorf("IPV6_RECVPKTINFO: %w", err)
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			return fmt.Errorf("IPV6_V6ONLY: %w", err)
		}
	} else if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_PKTINFO, 1); err != nil {
		return fmt.Errorf("IP_PKTINFO: %w", err)
	}
	gro := 1
	if b.cfg.noOffload {
		gro = 0
	}
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_UDP, unix.UDP_GRO, gro) // kernels without it simply read one datagram per message
	return nil
}

// Close closes both sockets; their receive functions then return
// net.ErrClosed.
func (b *udpBind) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var errs []error
	for _, s := range []*udpSocket{b.v4, b.v6} {
		if s != nil {
			s.closed.Store(true)
			errs = append(errs, s.conn.Close())
		}
	}
	b.v4, b.v6 = nil, nil
	return errors.Join(errs...)
}

// SetMark sets SO_MARK on both sockets (WireGuard's fwmark).
func (b *udpBind) SetMark(mark uint32) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range []*udpSocket{b.v4, b.v6} {
		if s == nil {
			continue
		}
		var err error
		if cerr := s.rc.Control(func(fd uintptr) {
			err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, int(mark))
		}); cerr != nil {
			return cerr
		}
		if err != nil {
			return fmt.Errorf("SO_MARK: %w", err)
		}
	}
	return nil
}

// ParseEndpoint parses "address:port".
func (b *udpBind) ParseEndpoint(s string) (conn.Endpoint, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return nil, err
	}
	return newUDPEndpoint(ap), nil
}

// BatchSize is the most packets one Send takes and one receive returns.
func (b *udpBind) BatchSize() int { return b.cfg.batch }

// socketFor returns the socket that reaches dst.
func (b *udpBind) socketFor(dst netip.Addr) *udpSocket {
	b.mu.Lock()
	defer b.mu.Unlock()
	if dst.Is4() {
		return b.v4
	}
	return b.v6
}

// putSockaddr writes ap into sa (IPv4 or IPv6 form) and returns its
// length.
func putSockaddr(sa *unix.RawSockaddrInet6, ap netip.AddrPort) uint32 {
	*sa = unix.RawSockaddrInet6{}
	port := (*[2]byte)(unsafe.Pointer(&sa.Port))
	binary.BigEndian.PutUint16(port[:], ap.Port())
	if ap.Addr().Is4() {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		sa4.Family = unix.AF_INET
		sa4.Addr = ap.Addr().As4()
		return unix.SizeofSockaddrInet4
	}
	sa.Family = unix.AF_INET6
	sa.Addr = ap.Addr().As16()
	return unix.SizeofSockaddrInet6
}

// getSockaddr reads an address written by the kernel into sa.
func getSockaddr(sa *unix.RawSockaddrInet6) netip.AddrPort {
	port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port)
	case unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), port)
	}
	return netip.AddrPort{}
}

// errClosedSocket reports err as net.ErrClosed when the socket was closed,
// which is how receive loops know to stop.
func (s *udpSocket) errClosed(err error) error {
	if s.closed.Load() || errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrClosed) {
		return net.ErrClosed
	}
	return err
}
