package encap

import (
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"
	"weak"

	"golang.zx2c4.com/wireguard/conn"
)

// sendRecorder is a conn.Bind whose Send records copies of the packets.
type sendRecorder struct {
	conn.Bind
	sent [][]byte
}

func (r *sendRecorder) Send(bufs [][]byte, _ conn.Endpoint) error {
	for _, b := range bufs {
		r.sent = append(r.sent, append([]byte(nil), b...))
	}
	return nil
}

// TestWGBindSendKeepsNoPackets: once Send returns, the slice it was given
// keeps every packet's length (wireguard-go counts the bytes sent from
// them) but points into none of them, while the socket got them whole and
// the send gate counted the data messages out.
func TestWGBindSendKeepsNoPackets(t *testing.T) {
	rec := &sendRecorder{}
	gate := newFlightGate(10)
	gate.entered(2)
	b := &wgBind{Bind: rec, tx: gate}
	pkts := [][]byte{dataMsg(1500), dataMsg(wgKeepaliveLen), dataMsg(60000)}
	bufs := append([][]byte(nil), pkts...)
	if err := b.Send(bufs, nil); err != nil {
		t.Fatal(err)
	}
	if got := gate.inflight.Load(); got != 0 {
		t.Errorf("send gate counts %d in flight after sending two data messages, want 0", got)
	}
	for i, p := range pkts {
		if len(rec.sent[i]) != len(p) || rec.sent[i][0] != wgTransportType {
			t.Errorf("packet %d: the socket got %d bytes, want the %d-byte packet", i, len(rec.sent[i]), len(p))
		}
		if len(bufs[i]) != len(p) {
			t.Errorf("packet %d: length %d after Send, want %d", i, len(bufs[i]), len(p))
		}
		if &bufs[i][0] == &p[0] {
			t.Errorf("packet %d: the slice still points into the packet after Send", i)
		}
	}
}

// TestWGTUNWriteKeepsNoPackets: the device's Write delivers the packets,
// then leaves nothing in the slice it was given.
func TestWGTUNWriteKeepsNoPackets(t *testing.T) {
	var got int
	tun := newWGTUN("", defaultTunnelMTU, 4, func(bufs [][]byte, _ int) (int, error) {
		for _, b := range bufs {
			if b != nil {
				got++
			}
		}
		return len(bufs), nil
	}, nil)
	bufs := [][]byte{make([]byte, 100), make([]byte, 100), make([]byte, 100)}
	if n, err := tun.Write(bufs, 0); n != len(bufs) || err != nil {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(bufs))
	}
	if got != len(bufs) {
		t.Fatalf("delivered %d packets, want %d", got, len(bufs))
	}
	for i, b := range bufs {
		if b != nil {
			t.Errorf("slot %d still holds a packet after Write", i)
		}
	}
}

// bufTracker keeps weak references to the message buffers packets passed
// through.
type bufTracker struct {
	mu   sync.Mutex
	bufs []weak.Pointer[byte]
}

func (k *bufTracker) track(bufs [][]byte) {
	k.mu.Lock()
	for _, b := range bufs {
		k.bufs = append(k.bufs, weak.Make(&b[0]))
	}
	k.mu.Unlock()
}

// alive counts the distinct tracked buffers not yet freed.
func (k *bufTracker) alive() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	seen := map[*byte]bool{}
	for _, w := range k.bufs {
		if p := w.Value(); p != nil {
			seen[p] = true
		}
	}
	return len(seen)
}

// trackingReceiver counts delivered packets and tracks their buffers.
type trackingReceiver struct {
	bufTracker
	got chan int
}

func (r *trackingReceiver) Receive(bufs [][]byte, _ []int, _ int, _ []netip.AddrPort) {
	r.track(bufs)
	r.got <- len(bufs)
}

// TestWireGuardFreesReturnedBuffers: once traffic has stopped and the
// collector has run, no message buffer that carried a packet outlives
// wireguard-go's pool, except those its readers hold for their next batch
// (the sender's device reader on one side, the receiver's socket reader on
// the other: a batch each). wireguard-go's sender and receiver keep their
// last batch's slice between batches; without the transport dropping what
// it points to, a batch more of buffers stays alive on each side.
func TestWireGuardFreesReturnedBuffers(t *testing.T) {
	const batch, rounds = 8, 40
	cfg := func(c *WireGuardConfig) { c.Batch, c.IPv4Only = batch, true }
	rx := &trackingReceiver{got: make(chan int, rounds*batch)}
	a, b := newWGNode(t, cfg), newWGNodeReceiving(t, cfg, rx)
	a.setPeers(b.peer(nil))
	b.setPeers(a.peer(nil))
	var sent bufTracker
	pkts := makeBatch(3, batch)
	for range rounds {
		var lent Batch
		if !a.w.Borrow(&lent, nil) {
			t.Fatal("Borrow refused")
		}
		k := min(batch, len(lent.Bufs()))
		sent.track(lent.Bufs()[:k])
		for i := range k {
			n := copy(lent.Bufs()[i][lent.Offset():], pkts[i][Headroom:])
			lent.Put(i, n, b.from())
		}
		lent.Return(k)
		// One batch at a time, so each goes through whole and the
		// socket buffer never overflows.
		for got := 0; got < k; {
			select {
			case n := <-rx.got:
				got += n
			case <-time.After(testWait):
				t.Fatalf("received %d of a batch of %d", got, k)
			}
		}
	}
	// wireguard-go puts buffers back after delivery, and a sync.Pool
	// keeps them through one collection.
	var sentAlive, recvAlive int
	ok := pollUntil(testWait, func() bool {
		runtime.GC()
		runtime.GC()
		sentAlive, recvAlive = sent.alive(), rx.alive()
		return sentAlive <= batch && recvAlive <= batch
	})
	t.Logf("alive: %d sent, %d received", sentAlive, recvAlive)
	if !ok {
		t.Fatalf("%d sent and %d received buffers still alive after traffic; want at most a batch (%d) each, what the readers hold", sentAlive, recvAlive, batch)
	}
}
