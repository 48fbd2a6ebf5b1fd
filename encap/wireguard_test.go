package encap

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func TestWireGuardExchange(t *testing.T) {
	for _, tc := range []struct {
		name      string
		underlay  netip.Addr
		noOffload bool
		psk       bool
	}{
		{"ipv4", netip.MustParseAddr("127.0.0.1"), false, false},
		{"ipv6", netip.IPv6Loopback(), false, false},
		{"ipv4-no-offload", netip.MustParseAddr("127.0.0.1"), true, false},
		{"ipv4-psk", netip.MustParseAddr("127.0.0.1"), false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The largest batch, so the sizes below cross every boundary.
			noGSO := func(c *WireGuardConfig) { c.DisableOffload, c.Batch = tc.noOffload, MaxWireGuardBatch }
			a, b := newWGNode(t, noGSO), newWGNode(t, noGSO)
			if a.w.LocalPort() == b.w.LocalPort() || a.w.LocalPort() == 0 {
				t.Fatalf("ephemeral ports %d and %d: want distinct and non-zero", a.w.LocalPort(), b.w.LocalPort())
			}
			var psk UAPIKey
			if tc.psk {
				psk = newTestKey(t)
			}
			pa, pb := a.peer(psk), b.peer(psk)
			pa.Endpoint = netip.AddrPortFrom(tc.underlay, pa.Endpoint.Port())
			pb.Endpoint = netip.AddrPortFrom(tc.underlay, pb.Endpoint.Port())
			a.setPeers(pb)
			b.setPeers(pa)

			var sentPkts, sentBytes uint64
			for _, n := range []int{1, 2, 3, 15, 31, 32, 33, 63, 64} {
				vni := uint32(n)
				batch := makeBatch(vni, n)
				if err := a.w.Send(batch, Headroom, b.from()); err != nil {
					t.Fatalf("a.Send(%d packets): %v", n, err)
				}
				for _, buf := range batch {
					sentBytes += uint64(len(buf) - Headroom)
				}
				sentPkts += uint64(n)
				checkBatch(t, b.rec.waitFor(n, testWait), vni, n, a.from())
				b.rec.reset()

				if err := b.w.Send(makeBatch(vni, n), Headroom, a.from()); err != nil {
					t.Fatalf("b.Send(%d packets): %v", n, err)
				}
				checkBatch(t, a.rec.waitFor(n, testWait), vni, n, b.from())
				a.rec.reset()
			}
			if st := a.w.Stats(); st.PacketsSent != sentPkts || st.BytesSent != sentBytes || st.SendErrors != 0 {
				t.Errorf("a.Stats() = %+v, want %d packets and %d bytes sent, no errors", st, sentPkts, sentBytes)
			}
			if st := b.w.Stats(); st.PacketsReceived != sentPkts || st.BytesReceived != sentBytes || st.Dropped != 0 {
				t.Errorf("b.Stats() = %+v, want %d packets and %d bytes received, no drops", st, sentPkts, sentBytes)
			}
			// With receive offload, batches arrive in few Receive calls,
			// not one per packet.
			if calls := b.rec.calls; !tc.noOffload && calls >= int(sentPkts)/2 {
				t.Errorf("%d packets arrived in %d Receive calls; want batches", sentPkts, calls)
			}
			st, ok := b.peerStats(a.pub)
			if !ok || st.LastHandshake.IsZero() || st.RxBytes == 0 || st.TxBytes == 0 || st.VTEP != a.vtep {
				t.Errorf("b's stats for a = %+v (found %v); want a handshake, traffic both ways and VTEP %s", st, ok, a.vtep)
			}
			if st.Endpoint.Addr() != tc.underlay {
				t.Errorf("b sends to a at %s, want an address of %s", st.Endpoint, tc.underlay)
			}
		})
	}
}

func TestWireGuardSendRejects(t *testing.T) {
	a, b := newWGNode(t, nil), newWGNode(t, nil)
	a.setPeers(b.peer(nil))
	dst := b.from()
	tooMany := make([][]byte, a.w.BatchSize()+1)
	for i := range tooMany {
		tooMany[i] = make([]byte, Headroom+HeaderLen)
	}
	for _, tc := range []struct {
		name string
		bufs [][]byte
		dst  netip.AddrPort
		want string
	}{
		{"too many", tooMany, dst, "BatchSize"},
		{"shorter than offset", [][]byte{make([]byte, 10)}, dst, "shorter than offset"},
		{"too big", [][]byte{make([]byte, Headroom+WireGuardMaxPacket+1)}, dst, "can carry"},
		{"unknown VTEP", makeBatch(1, 1), netip.AddrPortFrom(netip.MustParseAddr("fd00::1"), Port), "not the VTEP"},
		{"IPv4", makeBatch(1, 1), netip.MustParseAddrPort("127.0.0.1:4789"), "not the VTEP"},
	} {
		if err := a.w.Send(tc.bufs, Headroom, tc.dst); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Send (%s): err = %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
	if err := a.w.Send(makeBatch(1, 1), Headroom, netip.AddrPortFrom(netip.MustParseAddr("fd00::1"), Port)); !errors.Is(err, ErrUnknownVTEP) {
		t.Errorf("Send to an unknown VTEP: err = %v, want ErrUnknownVTEP", err)
	}
	if err := a.w.Send(nil, Headroom, dst); err != nil {
		t.Errorf("Send of no packets: %v", err)
	}
	if st := a.w.Stats(); st.PacketsSent != 0 || st.SendErrors != 6 {
		t.Errorf("Stats after rejected sends = %+v, want nothing sent and 6 errors", st)
	}
}

func TestWireGuardConfigErrors(t *testing.T) {
	key := newTestKey(t)
	vtep := vtepOfKey(publicOf(t, key))
	for _, tc := range []struct {
		name string
		cfg  WireGuardConfig
		want string
	}{
		{"no key", WireGuardConfig{VTEP: vtep}, "PrivateKey is missing"},
		{"short key", WireGuardConfig{PrivateKey: badKey("abcd"), VTEP: vtep}, "not a 32-byte key"},
		{"not hex", WireGuardConfig{PrivateKey: badKey(strings.Repeat("zz", 32)), VTEP: vtep}, "not hexadecimal"},
		{"zero key", WireGuardConfig{PrivateKey: testKey{}, VTEP: vtep}, "all zeros"},
		{"no VTEP", WireGuardConfig{PrivateKey: key}, "VTEP"},
		{"IPv4 VTEP", WireGuardConfig{PrivateKey: key, VTEP: netip.MustParseAddr("10.0.0.1")}, "unique local"},
		{"global VTEP", WireGuardConfig{PrivateKey: key, VTEP: netip.MustParseAddr("2001:db8::1")}, "unique local"},
		{"long name", WireGuardConfig{PrivateKey: key, VTEP: vtep, InterfaceName: "a-very-long-name0"}, "at most 15"},
		{"slash in name", WireGuardConfig{PrivateKey: key, VTEP: vtep, InterfaceName: "a/b"}, "letters, digits"},
		{"small MTU", WireGuardConfig{PrivateKey: key, VTEP: vtep, MTU: 1000}, "at least 1280"},
	} {
		_, err := NewWireGuard(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", tc.name, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), key.UAPIHex()) || strings.Contains(err.Error(), "zz") {
			t.Errorf("%s: error %q quotes the key", tc.name, err)
		}
	}
}

// badKey is a key whose hex form is whatever the test says.
type badKey string

func (k badKey) UAPIHex() string { return string(k) }

func TestWireGuardPortInUse(t *testing.T) {
	a := newWGNode(t, nil)
	key := newTestKey(t)
	w, err := NewWireGuard(WireGuardConfig{Port: a.w.LocalPort(), PrivateKey: key, VTEP: vtepOfKey(publicOf(t, key))})
	if err == nil {
		w.Close()
		t.Fatalf("second transport on port %d: no error", a.w.LocalPort())
	}
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), strconv.Itoa(int(a.w.LocalPort()))) {
		t.Errorf("error %q: want EADDRINUSE naming port %d", err, a.w.LocalPort())
	}
}

func TestWireGuardDefaultPort(t *testing.T) {
	key := newTestKey(t)
	w, err := NewWireGuard(WireGuardConfig{PrivateKey: key, VTEP: vtepOfKey(publicOf(t, key))})
	if errors.Is(err, syscall.EADDRINUSE) {
		t.Skipf("port %d is taken on this host: %v", DefaultWireGuardPort, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if w.LocalPort() != DefaultWireGuardPort {
		t.Errorf("LocalPort = %d, want %d", w.LocalPort(), DefaultWireGuardPort)
	}
}

// wireguardGoroutines counts live goroutines running wireguard-go's
// device code.
func wireguardGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "golang.zx2c4.com/wireguard/device.") {
			n++
		}
	}
	return n
}

func TestWireGuardLifecycle(t *testing.T) {
	before := wireguardGoroutines()
	key := newTestKey(t)
	w, err := NewWireGuard(WireGuardConfig{EphemeralPort: true, PrivateKey: key, VTEP: vtepOfKey(publicOf(t, key))})
	if err != nil {
		t.Fatal(err)
	}
	if !w.Secure() || w.BatchSize() < 1 || w.PublicKey() != publicOf(t, key) {
		t.Errorf("Secure=%v BatchSize=%d, public key matches=%v", w.Secure(), w.BatchSize(), w.PublicKey() == publicOf(t, key))
	}
	if err := w.Start(nil); err == nil {
		t.Error("Start(nil): no error")
	}
	r := newWGRecorder(t)
	if err := w.Start(r); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := w.Start(r); err == nil {
		t.Error("second Start: no error")
	}
	peer := newWGNode(t, nil)
	if err := w.SetPeers([]WGPeer{peer.peer(nil)}); err != nil {
		t.Fatal(err)
	}
	port := w.LocalPort()
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := w.Send(makeBatch(1, 1), Headroom, peer.from()); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: err = %v, want ErrClosed", err)
	}
	if err := w.Start(r); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: err = %v, want ErrClosed", err)
	}
	if err := w.SetPeers(nil); !errors.Is(err, ErrClosed) {
		t.Errorf("SetPeers after Close: err = %v, want ErrClosed", err)
	}
	if _, err := w.PeerStats(); !errors.Is(err, ErrClosed) {
		t.Errorf("PeerStats after Close: err = %v, want ErrClosed", err)
	}
	// The port is free again.
	w2, err := NewWireGuard(WireGuardConfig{Port: port, PrivateKey: key, VTEP: vtepOfKey(publicOf(t, key))})
	if err != nil {
		t.Fatalf("reopening port %d after Close: %v", port, err)
	}
	w2.Close()
	peer.w.Close()
	// wireguard-go's workers leave once their queues close, just after
	// Close returns.
	waitUntil(t, testWait, "wireguard-go goroutines to end", func() bool { return wireguardGoroutines() <= before })
}

// TestWireGuardCloseReleasesSend checks the hand-over: a Send waiting for
// wireguard-go's Read is released by Close, and a Read waits for a Send.
func TestWireGuardCloseReleasesSend(t *testing.T) {
	d := newWGTUN("", defaultTunnelMTU, 4, func([][]byte, int) (int, error) { return 0, nil }, nil)
	got := make(chan int, 1)
	go func() {
		bufs := [][]byte{make([]byte, 100), make([]byte, 100)}
		n, err := d.Read(bufs, make([]int, 2), 16)
		if err != nil {
			t.Errorf("Read: %v", err)
		}
		got <- n
	}()
	o, ok := d.take()
	if !ok || len(o.bufs) != 2 || o.offset != 16 {
		t.Fatalf("take = %+v, %v; want the Read's two buffers at offset 16", o, ok)
	}
	o.sizes[0], o.n = 42, 1
	d.release(o)
	if n := <-got; n != 1 {
		t.Fatalf("Read returned %d packets, want 1", n)
	}

	// A partly filled offer goes to a Send waiting at that moment.
	go func() {
		n, err := d.Read([][]byte{make([]byte, 100), make([]byte, 100), make([]byte, 100)}, make([]int, 3), 0)
		if err != nil {
			t.Errorf("Read: %v", err)
		}
		got <- n
	}()
	o, ok = d.take()
	if !ok {
		t.Fatal("no offer")
	}
	o.sizes[0], o.n = 10, 1
	second := make(chan struct{})
	go func() {
		defer close(second)
		o, ok := d.take()
		if !ok || o.n != 1 {
			t.Errorf("second Send took %+v, %v; want the offer with one slot filled", o, ok)
			return
		}
		o.sizes[1], o.n = 20, 2
		d.release(o)
	}()
	waitUntil(t, testWait, "the second Send to wait for an offer", func() bool {
		buf := make([]byte, 1<<20)
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, " [select]:") && strings.Contains(g, "(*wgTUN).take(") {
				return true // parked in take's select
			}
		}
		return false
	})
	d.release(o)
	<-second
	if n := <-got; n != 2 {
		t.Fatalf("Read returned %d packets, want 2 from two Sends", n)
	}

	taken := make(chan bool)
	go func() {
		_, ok := d.take() // no Read pending: blocks until Close
		taken <- ok
	}()
	d.Close()
	if <-taken {
		t.Error("take after Close reported an offer")
	}
	if _, err := d.Read([][]byte{make([]byte, 10)}, []int{0}, 0); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Read after Close: err = %v, want os.ErrClosed", err)
	}
	if _, err := d.Write([][]byte{make([]byte, 10)}, 0); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close: err = %v, want os.ErrClosed", err)
	}
}

// TestWireGuardConcurrentSends has several goroutines send small batches
// at once: every packet arrives once, intact, and each sender's in order.
func TestWireGuardConcurrentSends(t *testing.T) {
	a, b := newWGNode(t, nil), newWGNode(t, nil)
	connect(t, a, b)
	const senders, rounds, per, size = 8, 40, 3, 64
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for r := range rounds {
				bufs := make([][]byte, per)
				for i := range bufs {
					bufs[i] = make([]byte, Headroom+size)
					fillPacket(bufs[i][Headroom:], uint32(100+s), r*per+i)
				}
				if err := a.w.Send(bufs, Headroom, b.from()); err != nil {
					t.Errorf("sender %d: %v", s, err)
					return
				}
			}
		})
	}
	wg.Wait()
	next := map[uint32]int{}
	for _, p := range b.rec.waitFor(senders*rounds*per, testWait) {
		h, err := Parse(p.data)
		if err != nil || len(p.data) != size {
			t.Fatalf("bad packet: %d bytes, %v", len(p.data), err)
		}
		idx := int(binary.BigEndian.Uint32(p.data[HeaderLen:]))
		if idx != next[h.VNI] {
			t.Fatalf("sender %d: packet %d arrived when %d was due", h.VNI-100, idx, next[h.VNI])
		}
		want := make([]byte, size)
		fillPacket(want, h.VNI, idx)
		if string(want) != string(p.data) {
			t.Fatalf("sender %d: packet %d corrupted", h.VNI-100, idx)
		}
		next[h.VNI]++
	}
	if len(next) != senders {
		t.Errorf("packets from %d senders, want %d", len(next), senders)
	}
}
