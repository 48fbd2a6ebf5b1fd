package gossip

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"meshnet.dev/meshnet/gossip/wire"
)

// Datagrams no member sends (over maxGossipPacket) are dropped and
// counted before memberlist sees them; others arrive whole, each in a
// buffer of its own; Shutdown frees the port.
func TestNetTransportDropsOversizedDatagrams(t *testing.T) {
	var oversized atomic.Int64
	tr, err := listenNet("127.0.0.1", 0, netHooks{oversized: func() { oversized.Add(1) }, log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	addr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: tr.port()}
	c, err := net.DialUDP("udp", nil, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(make([]byte, 60000))
	c.Write(make([]byte, maxGossipPacket+1))
	c.Write([]byte("first"))
	c.Write([]byte("second"))
	var got []string
	for len(got) < 2 {
		select {
		case p := <-tr.PacketCh():
			got = append(got, string(p.Buf))
			if cap(p.Buf) > 64 {
				t.Errorf("a %d-byte packet holds a %d-byte buffer", len(p.Buf), cap(p.Buf))
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("packets received: %q", got)
		}
	}
	if got[0] != "first" || got[1] != "second" || oversized.Load() != 2 {
		t.Fatalf("got %q with %d oversized drops, want first, second and 2", got, oversized.Load())
	}
	if err := tr.Shutdown(); err != nil {
		t.Fatal(err)
	}
	again, err := listenNet("127.0.0.1", tr.port(), netHooks{oversized: func() {}, log: t.Logf})
	if err != nil {
		t.Fatalf("port not free after Shutdown: %v", err)
	}
	again.Shutdown()
}

// Datagrams not sealed with a gossip key never reach memberlist: junk and
// packets under another key are counted as undecryptable.
func TestUnsealedDatagramsDroppedBeforeMemberlist(t *testing.T) {
	d, addr := startLoopback(t, "mngsp-auth", nil)
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	junk := make([]byte, 200)
	junk[0] = 1 // a valid encryption version, so only the tag can tell
	for range 50 {
		c.Write(junk)
	}
	waitFor(t, 5*time.Second, func() error {
		if n := d.Stats().Dropped["undecryptable"]; n < 50 {
			return fmt.Errorf("%d undecryptable drops", n)
		}
		return nil
	})
	// A node with another key cannot get in, and its packets are dropped
	// the same way.
	cfg := DefaultConfig()
	cfg.Name, cfg.BindAddr, cfg.BindPort = "mngsp-stranger", "127.0.0.1", 0
	cfg.Keys = [][]byte{bytes.Repeat([]byte{9}, 32)}
	cfg.Tune = fastMemberlist
	cfg.Logger = testLogger()
	other, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Shutdown()
	if _, err := other.Join([]string{addr}); err == nil {
		t.Fatal("a node with another key joined")
	}
	if len(d.Members()) != 1 {
		t.Fatalf("members: %v", d.Members())
	}
}

// Checking a junk datagram allocates nothing once the ciphers are built.
func TestPacketAuthAllocatesNothing(t *testing.T) {
	ring, err := memberlist.NewKeyring([][]byte{bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)}, bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	a := newPacketAuth(ring)
	junk := make([]byte, 1400)
	junk[0] = 1
	if n := testing.AllocsPerRun(100, func() { a.ok(junk) }); n != 0 {
		t.Fatalf("%.1f allocations per junk datagram", n)
	}
}

// What memberlist sends to a member behind a NAT goes where the member's
// packets come from, and no stream is tried where the NAT lets none in.
func TestTransportRoutesToWhereAMemberSendsFrom(t *testing.T) {
	tr, err := listenNet("127.0.0.1", 0, netHooks{oversized: func() {}, log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown()
	r, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	adv := netip.MustParseAddrPort("127.0.0.1:9") // nothing listens there
	from := r.LocalAddr().(*net.UDPAddr).AddrPort()
	tr.route(adv, from, true)
	if _, err := tr.WriteTo([]byte("probe"), adv.String()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	r.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, _, err := r.ReadFromUDPAddrPort(buf); err != nil || string(buf[:n]) != "probe" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	start := time.Now()
	if _, err := tr.DialTimeout(adv.String(), 5*time.Second); !errors.Is(err, errNoConnectBack) || time.Since(start) > time.Second {
		t.Fatalf("dial to a member behind a NAT, without path messages: %v after %s", err, time.Since(start))
	}
	tr.route(adv, adv, false) // seen at its own address again
	if _, ok := tr.routeTo(adv); ok {
		t.Fatal("route kept")
	}
}

// A dial to a member behind a NAT becomes a stream the member opens: the
// dialler gets a working connection, the member's memberlist an inbound
// stream, and a hello under another key is refused.
func TestConnectBack(t *testing.T) {
	ring, err := memberlist.NewKeyring(nil, bytes.Repeat([]byte{5}, 32))
	if err != nil {
		t.Fatal(err)
	}
	seal := newPathSealer(ring)
	var laptop *netTransport
	hooks := netHooks{oversized: func() {}, log: t.Logf}
	dialler, err := listenNet("127.0.0.1", 0, hooks)
	if err != nil {
		t.Fatal(err)
	}
	defer dialler.Shutdown()
	lh := hooks
	lh.path = func(b []byte, from netip.AddrPort) {
		body, err := seal.open(nil, b)
		if err != nil {
			t.Errorf("laptop: %v", err)
			return
		}
		p, err := wire.DecodePathBody(body)
		if err != nil || p.Kind != wire.ConnectBack || !laptop.answerBack(p.ID, from) {
			t.Errorf("laptop: %+v %v", p, err)
		}
	}
	laptop, err = listenNet("127.0.0.1", 0, lh)
	if err != nil {
		t.Fatal(err)
	}
	defer laptop.Shutdown()
	self := func(tr *netTransport) netip.AddrPort {
		return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(tr.port()))
	}
	dialler.enableConnectBack(seal, self(dialler))
	laptop.enableConnectBack(seal, self(laptop))
	adv := netip.MustParseAddrPort("127.0.0.1:9")
	dialler.route(adv, self(laptop), true)

	// The dialler's accept loop hands inbound streams on; here the test
	// plays the stream guard.
	go func() {
		for c := range dialler.StreamCh() {
			if !dialler.acceptBack(c) {
				c.Close()
			}
		}
	}()
	type dialed struct {
		c   net.Conn
		err error
	}
	done := make(chan dialed, 1)
	go func() {
		c, err := dialler.DialTimeout(adv.String(), 5*time.Second)
		done <- dialed{c, err}
	}()
	var inbound net.Conn
	select {
	case inbound = <-laptop.StreamCh():
	case <-time.After(5 * time.Second):
		t.Fatal("the laptop opened no stream")
	}
	defer inbound.Close()
	d := <-done
	if d.err != nil {
		t.Fatal(d.err)
	}
	defer d.c.Close()
	if _, err := d.c.Write([]byte("push/pull")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 9)
	inbound.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(inbound, buf); err != nil || string(buf) != "push/pull" {
		t.Fatalf("laptop read %q, %v", buf, err)
	}

	// A hello sealed under another key answers nothing.
	other, _ := memberlist.NewKeyring(nil, bytes.Repeat([]byte{6}, 32))
	hello, _ := newPathSealer(other).sealAs(nil, wire.ConnectBackMsg, make([]byte, 8), helloAAD)
	a, b := net.Pipe()
	defer a.Close()
	go b.Write(hello)
	if dialler.acceptBack(a) {
		t.Fatal("a stranger's hello was taken")
	}
}
