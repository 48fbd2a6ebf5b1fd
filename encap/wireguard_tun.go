package encap

// The VXLAN side of the embedded WireGuard device.
//
// wireguard-go drives a tun.Device: one goroutine of the device (its TUN
// reader) calls Read for packets to route and encrypt, and each peer's
// receive goroutine calls Write with the packets it decrypted. Here that
// device is meshnet itself:
//
//	Send ─▶ hand-over ─▶ Read ─▶ wireguard-go: route by destination VTEP, encrypt, UDP out
//	UDP in ─▶ wireguard-go: decrypt, check the source is the peer's VTEP ─▶ Write ─▶ Receiver
//
// A hand-over, not a queue. Read offers its buffers (wireguard-go's own
// message buffers, which it then encrypts in place) on an unbuffered
// channel and waits. A Send takes the offer, writes each packet's IPv6 and
// UDP headers straight into those buffers, copies the VXLAN packet behind
// them and hands the batch back. So each packet is copied exactly once (the
// copy WireGuard needs anyway, since it encrypts into buffers it owns),
// there is no buffer pool of ours to bound or leak, and the only queue is
// one Read batch. Back-pressure comes for free: while wireguard-go's reader
// is busy or blocked on its full encryption queue it does not come back to
// Read, so Send blocks; Close releases it.
//
// A Send that leaves room in the offer passes it on to another Send waiting
// at that moment, if any, so many small concurrent Sends still make full
// batches; the last one to fill it hands it back.
//
// Locking: readMu serialises Read (wireguard-go calls it from one goroutine;
// the offer is reused). A taken offer belongs to exactly one Send at a time
// until it is handed back, and Read waits for that even while closing, so a
// Send never writes into a buffer wireguard-go has taken back. Holders never
// block, so the wait is short.

import (
	"os"
	"sync"
	"time"

	"golang.zx2c4.com/wireguard/tun"
)

// wgReadOffer is a pending Read: wireguard-go's buffers, to be filled by one
// Send.
type wgReadOffer struct {
	bufs   [][]byte
	sizes  []int
	offset int
	n      int // packets the Send filled in
}

// wgTUN is the tun.Device wireguard-go reads tunnelled packets from and
// writes decrypted ones to.
type wgTUN struct {
	name  string
	mtu   int
	batch int
	write func(bufs [][]byte, offset int) (int, error)

	events    chan tun.Event
	offers    chan *wgReadOffer // unbuffered: Read → Send
	filled    chan struct{}     // one slot: Send → Read
	closing   chan struct{}
	closeOnce sync.Once

	readMu  sync.Mutex // serialises Read; guards offer and txTimer
	offer   wgReadOffer
	tx      *flightGate // the send gate (wireguard_gate.go); nil: no bound
	txTimer *time.Timer
}

var _ tun.Device = (*wgTUN)(nil)

func newWGTUN(name string, mtu, batch int, write func([][]byte, int) (int, error), tx *flightGate) *wgTUN {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &wgTUN{
		tx:      tx,
		txTimer: t,
		name:    name,
		mtu:     mtu,
		batch:   batch,
		write:   write,
		events:  make(chan tun.Event),
		offers:  make(chan *wgReadOffer),
		filled:  make(chan struct{}, 1),
		closing: make(chan struct{}),
	}
}

// Read waits for a Send to fill bufs with tunnelled packets, at offset, and
// returns how many it filled. It returns os.ErrClosed once the device is
// closed.
func (t *wgTUN) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	n := min(len(bufs), len(sizes))
	if n == 0 {
		return 0, nil
	}
	t.readMu.Lock()
	defer t.readMu.Unlock()
	if t.tx != nil {
		t.tx.wait(t.txTimer, t.closing)
	}
	o := &t.offer
	*o = wgReadOffer{bufs: bufs[:n], sizes: sizes[:n], offset: offset}
	select {
	case t.offers <- o:
	case <-t.closing:
		*o = wgReadOffer{}
		return 0, os.ErrClosed
	}
	<-t.filled // a Send owns o until it signals, closing or not
	n = o.n
	*o = wgReadOffer{} // do not keep wireguard-go's buffers
	if t.tx != nil {
		t.tx.entered(n)
	}
	return n, nil
}

// take waits for wireguard-go's next Read, or a partly filled Read another
// Send passes on, and returns it. The caller fills slots from o.n on,
// advances o.n and then calls release. take reports false once the device
// is closed.
func (t *wgTUN) take() (*wgReadOffer, bool) {
	select {
	case o := <-t.offers:
		return o, true
	case <-t.closing:
		return nil, false
	}
}

// release passes a taken offer that still has room to a Send waiting in
// take, or hands it back to the waiting Read. It never blocks: the pass
// happens only if a taker is ready, and there is one offer at a time, for
// whose signal filled has room.
func (t *wgTUN) release(o *wgReadOffer) {
	if o.n < len(o.bufs) {
		select {
		case t.offers <- o:
			return
		default:
		}
	}
	t.filled <- struct{}{}
}

// Write hands packets wireguard-go decrypted to the transport's receive
// path, then clears bufs: wireguard-go's receiver passes the same slice
// batch after batch, and its slots would otherwise keep message buffers
// it has put back in its pool from ever being freed (see wgBind).
func (t *wgTUN) Write(bufs [][]byte, offset int) (int, error) {
	select {
	case <-t.closing:
		return 0, os.ErrClosed
	default:
	}
	n, err := t.write(bufs, offset)
	clear(bufs)
	return n, err
}

// File reports no file: this device is not a kernel interface.
func (t *wgTUN) File() *os.File { return nil }

// MTU is the configured MTU of tunnelled packets; wireguard-go pads up to
// it.
func (t *wgTUN) MTU() (int, error) { return t.mtu, nil }

// Name is the transport's interface name (possibly empty).
func (t *wgTUN) Name() (string, error) { return t.name, nil }

// Events never delivers anything: the transport brings the device up
// itself. The channel is closed by Close, which ends wireguard-go's event
// goroutine.
func (t *wgTUN) Events() <-chan tun.Event { return t.events }

// BatchSize is the most packets one Read or Write moves.
func (t *wgTUN) BatchSize() int { return t.batch }

// Close unblocks Read and blocked Sends, and makes both fail from now on.
func (t *wgTUN) Close() error {
	t.closeOnce.Do(func() {
		close(t.closing)
		close(t.events)
	})
	return nil
}
