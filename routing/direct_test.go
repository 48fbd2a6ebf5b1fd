package routing

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/curve25519"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/internal/packet"
)

// pollDev is an in-memory device with PollDevice's methods: frames pushed
// into it are read out, frames written to it are recorded.
type pollDev struct {
	mac    packet.MAC
	mu     sync.Mutex
	queue  [][]byte
	ready  chan struct{}
	closed chan struct{}
	got    chan []byte
}

func newPollDev(mac packet.MAC) *pollDev {
	return &pollDev{mac: mac, ready: make(chan struct{}, 1), closed: make(chan struct{}), got: make(chan []byte, 1024)}
}

var errPollDevClosed = errors.New("closed")

func (d *pollDev) push(frames ...[]byte) {
	d.mu.Lock()
	d.queue = append(d.queue, frames...)
	d.mu.Unlock()
	select {
	case d.ready <- struct{}{}:
	default:
	}
}

func (d *pollDev) WaitReadable() error {
	for {
		d.mu.Lock()
		n := len(d.queue)
		d.mu.Unlock()
		if n > 0 {
			return nil
		}
		select {
		case <-d.ready:
		case <-d.closed:
			return errPollDevClosed
		}
	}
}

func (d *pollDev) TryRead(bufs [][]byte, sizes []int, off int) (int, error) {
	select {
	case <-d.closed:
		return 0, errPollDevClosed
	default:
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for n < len(bufs) && n < len(sizes) && len(d.queue) > 0 {
		sizes[n] = copy(bufs[n][off:], d.queue[0])
		d.queue = d.queue[1:]
		n++
	}
	return n, nil
}

func (d *pollDev) Read(bufs [][]byte, sizes []int, off int) (int, error) {
	for {
		if err := d.WaitReadable(); err != nil {
			return 0, err
		}
		if n, err := d.TryRead(bufs, sizes, off); n > 0 || err != nil {
			return n, err
		}
	}
}

func (d *pollDev) Write(bufs [][]byte, off int) (int, error) {
	for _, b := range bufs {
		d.got <- bytes.Clone(b[off:])
	}
	return len(bufs), nil
}

func (d *pollDev) BatchSize() int           { return 64 }
func (d *pollDev) HardwareAddr() packet.MAC { return d.mac }
func (d *pollDev) close()                   { close(d.closed) }

type hexKey [32]byte

func (k hexKey) UAPIHex() string { return hex.EncodeToString(k[:]) }

// wgEnd is one node of a two-node encrypted network over loopback.
type wgEnd struct {
	key  hexKey
	pub  [32]byte
	vtep netip.Addr
	w    *encap.WireGuard
}

func newWGEnd(t testing.TB, last byte) *wgEnd {
	t.Helper()
	e := &wgEnd{vtep: netip.AddrFrom16([16]byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last})}
	if _, err := rand.Read(e.key[:]); err != nil {
		t.Fatal(err)
	}
	pub, err := curve25519.X25519(e.key[:], curve25519.Basepoint)
	if err != nil {
		t.Fatal(err)
	}
	copy(e.pub[:], pub)
	if e.w, err = encap.NewWireGuard(encap.WireGuardConfig{EphemeralPort: true, PrivateKey: e.key, VTEP: e.vtep}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.w.Close() })
	return e
}

// TestDirectSendDelivers runs an encrypted network over two real WireGuard
// transports, with a sending device that allows direct sends: unicast
// frames, a broadcast and a frame for an unknown MAC go through the port,
// and the receiver gets exactly the first two kinds, intact.
func TestDirectSendDelivers(t *testing.T) {
	a, b := newWGEnd(t, 1), newWGEnd(t, 2)
	lo := netip.MustParseAddr("127.0.0.1")
	if err := a.w.SetPeers([]encap.WGPeer{{PublicKey: b.pub, Endpoint: netip.AddrPortFrom(lo, b.w.LocalPort()), VTEP: b.vtep}}); err != nil {
		t.Fatal(err)
	}
	if err := b.w.SetPeers([]encap.WGPeer{{PublicKey: a.pub, Endpoint: netip.AddrPortFrom(lo, a.w.LocalPort()), VTEP: a.vtep}}); err != nil {
		t.Fatal(err)
	}
	macA, macB := packet.MAC{2, 0, 0, 0, 0, 1}, packet.MAC{2, 0, 0, 0, 0, 2}
	table := func(other string, otherVTEP netip.Addr, otherMAC packet.MAC, selfMAC packet.MAC) *Table {
		tb := NewTable()
		tb.Update(func(tx *Tx) {
			tx.SetNetwork(NetworkConfig{Name: "n", VNI: 5, Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}, Encrypted: true})
			tx.SetPeer(PeerConfig{Name: other, VTEP: netip.AddrPortFrom(otherVTEP, encap.Port)})
			tx.SetMember(5, other, true)
			tx.SetEndpoint(5, Endpoint{MAC: otherMAC, IP: netip.MustParseAddr("10.0.0.9"), Node: other})
			tx.SetEndpoint(5, Endpoint{MAC: selfMAC, IP: netip.MustParseAddr("10.0.0.8")})
		})
		return tb
	}
	fa := New(Config{Table: table("b", b.vtep, macB, macA), Secure: a.w})
	fb := New(Config{Table: table("a", a.vtep, macA, macB), Secure: b.w})
	if err := b.w.Start(fb.SecureReceiver()); err != nil {
		t.Fatal(err)
	}
	if err := a.w.Start(fa.SecureReceiver()); err != nil {
		t.Fatal(err)
	}
	devA, devB := newPollDev(macA), newPollDev(macB)
	pa, err := fa.Attach(5, devA)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := pa.direct(); !ok {
		t.Fatal("the port would not send directly")
	}
	if _, err := fb.Attach(5, devB); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- pa.Run() }()
	t.Cleanup(func() {
		devA.close()
		if err := <-done; !errors.Is(err, errPollDevClosed) {
			t.Errorf("Run = %v, want the device's close error", err)
		}
	})

	var want [][]byte
	for i := range 200 {
		f := make([]byte, 1200)
		putTCP4(f, macB, macA, netip.MustParseAddr("10.0.0.9"), uint16(1000+i), 1200)
		binary.BigEndian.PutUint32(f[60:], uint32(i))
		want = append(want, f)
	}
	bcast := bytes.Clone(want[0])
	bc := packet.BroadcastMAC()
	copy(bcast[0:6], bc[:])
	unknown := bytes.Clone(want[0])
	copy(unknown[0:6], []byte{2, 9, 9, 9, 9, 9})
	devA.push(want[:100]...)
	devA.push(bcast, unknown)
	devA.push(want[100:]...)

	got := map[string]bool{}
	deadline := time.After(20 * time.Second)
	for len(got) < len(want)+1 {
		select {
		case f := <-devB.got:
			got[string(f)] = true
		case <-deadline:
			t.Fatalf("received %d of %d frames", len(got), len(want)+1)
		}
	}
	for i, f := range append(want, bcast) {
		if !got[string(f)] {
			t.Fatalf("frame %d missing or changed", i)
		}
	}
	if d := pa.Stats.Drops[DropUnknownUnicast].Load(); d != 1 {
		t.Errorf("unknown unicast drops %d, want 1", d)
	}
}
