package encap

import (
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
)

// ErrClosed is returned by Start and Send on a closed Transport.
var ErrClosed = errors.New("encap: transport closed")

// Receiver consumes packets a Transport received. Packet i is
// bufs[i][offset:offset+sizes[i]] and starts with the VXLAN header; bytes
// before offset are free for the receiver to use as headroom. from[i] names
// the sender: its underlay address for the plain transport, its VTEP address
// for the wireguard transport. Receive must not keep bufs after it returns and
// may be called from several goroutines at once.
type Receiver interface {
	Receive(bufs [][]byte, sizes []int, offset int, from []netip.AddrPort)
}

// Transport moves VXLAN packets between nodes.
type Transport interface {
	// Start begins delivering received packets to r from goroutines the
	// Transport owns; they stop when Close returns.
	Start(r Receiver) error

	// Send transmits each bufs[i][offset:] (a VXLAN header and its frame) to
	// dst. len(bufs) must not exceed BatchSize. Bytes before offset may be
	// overwritten by the transport (headroom), and so may the spare capacity
	// after each packet, bufs[i][len(bufs[i]):cap(bufs[i])]: segmentation
	// offload coalesces packets there. Give every packet its own buffer, or
	// cap it with a full slice expression. Send does not keep bufs; it is
	// safe to call from several goroutines at once.
	Send(bufs [][]byte, offset int, dst netip.AddrPort) error

	// Borrow lends b buffers to read packets into and send from, without
	// a copy (see Batch): the transport's own, or own, the caller's, for a
	// transport that has none to lend. It may wait for the transport (the
	// encrypted one waits for WireGuard's next read). It reports false,
	// leaving b unusable, once the transport is closed. A borrowed batch
	// must be returned without blocking.
	Borrow(b *Batch, own [][]byte) bool

	// BatchSize is the most packets Send accepts and Receive delivers at once.
	BatchSize() int

	// Secure reports whether packets this transport delivers are
	// authenticated (encrypted networks accept only those).
	Secure() bool

	// LocalPort is the UDP port the transport listens on.
	LocalPort() uint16

	// Close stops receiving and releases the socket.
	Close() error
}

// startOnce is Start's bookkeeping, the same for every transport: a
// Receiver is required, a closed transport refuses, and Start may be
// called once. If it returns nil, the caller starts receiving. The caller
// holds the lock that orders Start against Close.
func startOnce(kind string, r Receiver, closed *atomic.Bool, started *bool) error {
	switch {
	case r == nil:
		return fmt.Errorf("%s transport: Start needs a Receiver, got nil", kind)
	case closed.Load():
		return ErrClosed
	case *started:
		return fmt.Errorf("%s transport: already started; Start may be called once", kind)
	}
	*started = true
	return nil
}
