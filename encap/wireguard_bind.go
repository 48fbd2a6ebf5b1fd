package encap

import (
	"sync/atomic"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
)

// wgBind is the UDP bind as the embedded WireGuard device sees it: the
// gates (wireguard_gate.go), when configured, and no reference to a packet
// once it is sent.
//
// wireguard-go's per-peer sender hands Send the same slice batch after
// batch and only truncates it in between, so without this its slots would
// go on pointing into the 64 KiB message buffers of earlier batches after
// it put them back in its pool: up to a batch of buffers per peer that no
// collection frees, and that stay resident once the node is idle. (Its
// receiver does the same with the slice it passes to the device's Write,
// which wgTUN.Write clears.)
type wgBind struct {
	conn.Bind
	rx, tx *flightGate                   // nil: no bound
	closed atomic.Pointer[chan struct{}] // closed by Close, made by Open
}

// sentPackets is what Send leaves the sent packets' slices pointing at:
// never written, so never resident.
var sentPackets [device.MaxMessageSize]byte

// Open opens the bind and puts the receive gate, if any, in front of each
// of its receive functions.
func (b *wgBind) Open(port uint16) ([]conn.ReceiveFunc, uint16, error) {
	fns, actual, err := b.Bind.Open(port)
	if err != nil {
		return nil, 0, err
	}
	closed := make(chan struct{})
	b.closed.Store(&closed)
	if b.rx == nil {
		return fns, actual, nil
	}
	gated := make([]conn.ReceiveFunc, len(fns))
	for i, fn := range fns {
		t := time.NewTimer(time.Hour)
		t.Stop()
		gated[i] = func(bufs [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
			b.rx.wait(t, closed)
			n, err := fn(bufs, sizes, eps)
			b.rx.entered(dataMessages(bufs, sizes, n))
			return n, err
		}
	}
	return gated, actual, nil
}

// Send implements conn.Bind: the data messages leave the send stage
// whether or not the socket took them. Then each bufs[i] is replaced by a
// slice of the same length that does not point into the packet:
// wireguard-go counts the bytes sent from the lengths after Send returns,
// and never reads the packets again.
func (b *wgBind) Send(bufs [][]byte, ep conn.Endpoint) error {
	err := b.Bind.Send(bufs, ep)
	if b.tx != nil {
		b.tx.delivered(dataMessagesOut(bufs))
	}
	for i, p := range bufs {
		if len(p) <= len(sentPackets) {
			bufs[i] = sentPackets[:len(p):len(p)]
		}
	}
	return err
}

func (b *wgBind) Close() error {
	if c := b.closed.Swap(nil); c != nil {
		close(*c)
	}
	return b.Bind.Close()
}
