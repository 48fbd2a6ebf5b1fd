package encap

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/conn"

	"meshnet.dev/meshnet/internal/testenv"
)

// groReceiver is a plain socket with UDP GRO on, to see whether a sender
// used GSO: a GSO datagram reaches it whole, with its segment size.
type groReceiver struct {
	c     *net.UDPConn
	addr  netip.AddrPort
	noGSO bool
}

func newGROReceiver(t *testing.T, network, addr string) *groReceiver {
	t.Helper()
	c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &groReceiver{c: c, addr: c.LocalAddr().(*net.UDPAddr).AddrPort()}
	rc, _ := c.SyscallConn()
	_ = rc.Control(func(fd uintptr) {
		if unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO, 1) != nil {
			r.noGSO = true
		}
		if _, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT); err != nil {
			r.noGSO = true
		}
	})
	return r
}

// read returns the size of the next message and its GRO segment size.
func (r *groReceiver) read(t *testing.T) (int, int) {
	t.Helper()
	buf, oob := make([]byte, 65536), make([]byte, 128)
	if err := r.c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, oobn, _, _, err := r.c.ReadMsgUDP(buf, oob)
	if err != nil {
		t.Fatal(err)
	}
	gso, _, _ := parseUDPControl(oob[:oobn])
	return n, gso
}

func openTestBind(t *testing.T, cfg udpBindConfig) (*udpBind, []conn.ReceiveFunc, uint16) {
	t.Helper()
	b := newUDPBind(cfg)
	fns, port, err := b.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, fns, port
}

// recvAll reads from fn until it has want datagrams.
func recvAll(t *testing.T, fn conn.ReceiveFunc, want int) ([][]byte, []conn.Endpoint) {
	t.Helper()
	return recvBatches(t, fn, want, udpBatch)
}

// recvBatches reads from fn, batch datagrams at most at a time, until it
// has want datagrams.
func recvBatches(t *testing.T, fn conn.ReceiveFunc, want, batch int) ([][]byte, []conn.Endpoint) {
	t.Helper()
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, 65536)
	}
	sizes, eps := make([]int, batch), make([]conn.Endpoint, batch)
	var got [][]byte
	var from []conn.Endpoint
	for len(got) < want {
		n, err := fn(bufs, sizes, eps)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			got = append(got, bytes.Clone(bufs[i][:sizes[i]]))
			from = append(from, eps[i])
		}
	}
	return got, from
}

// TestUDPBindRoundTrip sends runs that GSO can and cannot merge, over IPv4
// and IPv6, and checks every datagram arrives intact, in order, from the
// sender's address.
func TestUDPBindRoundTrip(t *testing.T) {
	for _, loop := range []string{"127.0.0.1", "::1"} {
		for _, noOffload := range []bool{false, true} {
			a, _, aport := openTestBind(t, udpBindConfig{noOffload: noOffload})
			b, bfns, bport := openTestBind(t, udpBindConfig{noOffload: noOffload})
			fn := bfns[0]
			if loop == "::1" {
				fn = bfns[1]
			}
			ep, err := a.ParseEndpoint(netip.AddrPortFrom(netip.MustParseAddr(loop), bport).String())
			if err != nil {
				t.Fatal(err)
			}
			sizes := []int{1000, 1000, 1000, 400, 1000, 1200, 1200, 0, 7, 7, 7}
			var want [][]byte
			for i, n := range sizes {
				p := make([]byte, n)
				for j := range p {
					p[j] = byte(i*31 + j)
				}
				want = append(want, p)
			}
			if err := a.Send(want, ep); err != nil {
				t.Fatalf("%s noOffload=%t: send: %v", loop, noOffload, err)
			}
			got, from := recvAll(t, fn, len(want))
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("%s noOffload=%t: datagram %d: %d bytes, want %d", loop, noOffload, i, len(got[i]), len(want[i]))
				}
				if d := from[i].(*udpEndpoint).dst; d.Port() != aport || d.Addr() != netip.MustParseAddr(loop) {
					t.Fatalf("%s: datagram %d from %s, want port %d", loop, i, d, aport)
				}
				if src := from[i].SrcIP(); src != netip.MustParseAddr(loop) {
					t.Fatalf("%s: sticky source %s, want %s", loop, src, loop)
				}
			}
			_ = b
		}
	}
}

// TestUDPBindReplyFromStickySource: an endpoint learned from a received
// datagram carries the local address it reached, and sending to it works.
func TestUDPBindReplyFromStickySource(t *testing.T) {
	a, afns, aport := openTestBind(t, udpBindConfig{})
	b, bfns, bport := openTestBind(t, udpBindConfig{})
	ep, _ := a.ParseEndpoint(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), bport).String())
	if err := a.Send([][]byte{[]byte("ping")}, ep); err != nil {
		t.Fatal(err)
	}
	_, from := recvAll(t, bfns[0], 1)
	if err := b.Send([][]byte{[]byte("pong")}, from[0]); err != nil {
		t.Fatal(err)
	}
	got, back := recvAll(t, afns[0], 1)
	if string(got[0]) != "pong" || back[0].(*udpEndpoint).dst.Port() != bport {
		t.Fatalf("got %q from %s", got[0], back[0].DstToString())
	}
	_ = aport
}

// TestUDPBindUsesGSO: a run of equal datagrams leaves as one GSO datagram
// (a receiver with GRO sees it whole), gathered from separate buffers.
func TestUDPBindUsesGSO(t *testing.T) {
	r := newGROReceiver(t, "udp4", "127.0.0.1:0")
	if r.noGSO {
		t.Skip("kernel has no UDP segmentation offload")
	}
	a, _, _ := openTestBind(t, udpBindConfig{})
	bufs := [][]byte{bytes.Repeat([]byte{1}, 500), bytes.Repeat([]byte{2}, 500), bytes.Repeat([]byte{3}, 200)}
	if err := a.Send(bufs, newUDPEndpoint(r.addr)); err != nil {
		t.Fatal(err)
	}
	if n, gso := r.read(t); n != 1200 || gso != 500 {
		t.Fatalf("read %d bytes with segment size %d, want 1200 and 500", n, gso)
	}
}

func TestUDPBindCloseEndsReceive(t *testing.T) {
	b, fns, _ := openTestBind(t, udpBindConfig{})
	done := make(chan error, 1)
	go func() {
		bufs, sizes, eps := [][]byte{make([]byte, 100)}, []int{0}, []conn.Endpoint{nil}
		_, err := fns[0](bufs, sizes, eps)
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	b.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("receive after Close = %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("receive did not return after Close")
	}
	if _, _, err := b.Open(0); err != nil {
		t.Fatalf("reopening: %v", err)
	}
}

// TestUDPBindDoesNotAllocate: sending a batch and receiving it allocate
// nothing once the endpoint is cached.
func TestUDPBindDoesNotAllocate(t *testing.T) {
	testenv.SkipAllocsUnderRace(t)
	a, _, _ := openTestBind(t, udpBindConfig{})
	_, bfns, bport := openTestBind(t, udpBindConfig{})
	ep := newUDPEndpoint(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), bport))
	out := make([][]byte, 32)
	for i := range out {
		out[i] = make([]byte, 1200)
	}
	in := make([][]byte, udpBatch)
	for i := range in {
		in[i] = make([]byte, 65536)
	}
	sizes, eps := make([]int, udpBatch), make([]conn.Endpoint, udpBatch)
	roundTrip := func() {
		if err := a.Send(out, ep); err != nil {
			t.Fatal(err)
		}
		for got := 0; got < len(out); {
			n, err := bfns[0](in, sizes, eps)
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
	}
	roundTrip()
	if allocs := testing.AllocsPerRun(50, roundTrip); allocs != 0 {
		t.Fatalf("a send and receive of %d datagrams allocated %.1f times", len(out), allocs)
	}
}

// TestUDPBindSmallBatchKeepsGROMessage: a bind whose batch is smaller than
// a GRO message returns the message's datagrams over several receives,
// all of them, in order.
func TestUDPBindSmallBatchKeepsGROMessage(t *testing.T) {
	for _, batch := range []int{1, 4, 16} {
		a, _, _ := openTestBind(t, udpBindConfig{})
		b, bfns, bport := openTestBind(t, udpBindConfig{batch: batch})
		if b.BatchSize() != batch {
			t.Fatalf("BatchSize %d, want %d", b.BatchSize(), batch)
		}
		var want [][]byte
		for i := range 40 {
			n := 1200
			if i == 39 {
				n = 300 // a short last datagram ends a GSO run
			}
			want = append(want, bytes.Repeat([]byte{byte(i)}, n))
		}
		if err := a.Send(want, newUDPEndpoint(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), bport))); err != nil {
			t.Fatal(err)
		}
		got, _ := recvBatches(t, bfns[0], len(want), batch)
		if len(got) != len(want) {
			t.Fatalf("batch %d: %d datagrams, want %d", batch, len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("batch %d: datagram %d: %d bytes of %d, want %d of %d", batch, i, len(got[i]), got[i][0], len(want[i]), i)
			}
		}
		if b.v4.rxGRO && b.v4.rx.carry.buf == nil {
			t.Fatalf("batch %d: GRO is on but no message was carried over: the test did not test the carry", batch)
		}
	}
}

// TestUDPBindIPv4Only: an IPv4-only bind has one socket and one receive
// function, nothing listens on its port over IPv6, IPv4 still works and a
// send to an IPv6 address fails instead of going nowhere.
func TestUDPBindIPv4Only(t *testing.T) {
	a, afns, aport := openTestBind(t, udpBindConfig{ipv4Only: true})
	if len(afns) != 1 || a.v6 != nil {
		t.Fatalf("%d receive functions, IPv6 socket %v; want one, none", len(afns), a.v6 != nil)
	}
	// The port is free over IPv6: this node holds no socket there.
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback, Port: int(aport)})
	if err != nil {
		t.Fatalf("IPv6 port %d not free: %v", aport, err)
	}
	c.Close()

	b, _, _ := openTestBind(t, udpBindConfig{ipv4Only: true})
	ep, _ := b.ParseEndpoint(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), aport).String())
	if err := b.Send([][]byte{[]byte("hello")}, ep); err != nil {
		t.Fatal(err)
	}
	got, _ := recvAll(t, afns[0], 1)
	if string(got[0]) != "hello" {
		t.Fatalf("got %q", got[0])
	}
	ep6, _ := b.ParseEndpoint(netip.AddrPortFrom(netip.IPv6Loopback(), aport).String())
	if err := b.Send([][]byte{[]byte("x")}, ep6); !errors.Is(err, unix.EAFNOSUPPORT) {
		t.Fatalf("send over IPv6: %v, want EAFNOSUPPORT", err)
	}
}
