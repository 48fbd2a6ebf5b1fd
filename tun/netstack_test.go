package tun

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"meshnet.dev/meshnet/internal/packet"
)

func TestNetstackTCPBetweenStacks(t *testing.T) {
	a, b := netstackPair(t)
	for _, dst := range []netip.Prefix{nsAddr2, nsAddr26} {
		t.Run(dst.Addr().String(), func(t *testing.T) {
			l, err := b.Net().ListenTCPAddrPort(netip.AddrPortFrom(dst.Addr(), 8080))
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			go func() {
				c, err := l.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				io.Copy(c, c) // echo until the client half-closes
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := a.Net().DialContextTCPAddrPort(ctx, netip.AddrPortFrom(dst.Addr(), 8080))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			want := bytes.Repeat([]byte("meshnet "), 64<<10) // 512 KiB, many segments
			go func() {
				c.Write(want)
				c.CloseWrite()
			}()
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("echoed %d bytes, want %d identical bytes", len(got), len(want))
			}
		})
	}
}

func TestNetstackUDPBetweenStacks(t *testing.T) {
	a, b := netstackPair(t)
	for _, dst := range []netip.Prefix{nsAddr2, nsAddr26} {
		srv, err := b.Net().ListenUDPAddrPort(netip.AddrPortFrom(dst.Addr(), 5353))
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		cli, err := a.Net().DialUDPAddrPort(netip.AddrPort{}, netip.AddrPortFrom(dst.Addr(), 5353))
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		if _, err := cli.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		srv.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, from, err := srv.ReadFrom(buf)
		if err != nil {
			t.Fatalf("%s: %v", dst, err)
		}
		if string(buf[:n]) != "hello" {
			t.Fatalf("%s: got %q", dst, buf[:n])
		}
		if _, err := srv.WriteTo([]byte("world"), from); err != nil {
			t.Fatal(err)
		}
		cli.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err = cli.Read(buf); err != nil || string(buf[:n]) != "world" {
			t.Fatalf("%s: reply %q, %v", dst, buf[:n], err)
		}
	}
}

func TestNetstackPing(t *testing.T) {
	a, _ := netstackPair(t)
	for _, tc := range []struct {
		dst       netip.Addr
		req, resp icmp.Type
		proto     int
	}{
		{nsAddr2.Addr(), ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply, 1},
		{nsAddr26.Addr(), ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply, 58},
	} {
		pc, err := a.Net().DialPingAddr(netip.Addr{}, tc.dst)
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		msg := icmp.Message{Type: tc.req, Body: &icmp.Echo{ID: 7, Seq: 1, Data: []byte("meshnet ping")}}
		b, err := msg.Marshal(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pc.Write(b); err != nil {
			t.Fatal(err)
		}
		pc.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 1500)
		n, err := pc.Read(buf)
		if err != nil {
			t.Fatalf("ping %s: %v", tc.dst, err)
		}
		reply, err := icmp.ParseMessage(tc.proto, buf[:n])
		if err != nil {
			t.Fatal(err)
		}
		echo, ok := reply.Body.(*icmp.Echo)
		if reply.Type != tc.resp || !ok || string(echo.Data) != "meshnet ping" {
			t.Fatalf("ping %s: got %v %+v, want an echo reply", tc.dst, reply.Type, reply.Body)
		}
	}
}

// readFrame reads one frame from d with a deadline.
func readFrame(t *testing.T, d Device) []byte {
	t.Helper()
	bufs, sizes := testBufs(1, testOffset+packet.EthHeaderLen+d.MTU())
	type result struct {
		n   int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		n, err := d.Read(bufs, sizes, testOffset)
		ch <- result{n, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil || r.n != 1 {
			t.Fatalf("Read = %d, %v", r.n, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no frame within 5s")
	}
	return bufs[0][testOffset : testOffset+sizes[0]]
}

func TestNetstackReadFramesLikeTUN(t *testing.T) {
	checkGoroutines(t)
	d := newTestNetstack(t, nsMAC1, nsAddr1, nsAddr16)
	defer d.Close()
	for _, tc := range []struct {
		dst   string
		mac   packet.MAC
		etype uint16
	}{
		{"10.1.0.2", nsMAC2, packet.EtherTypeIPv4},
		{"10.1.0.99", packet.MAC{}, packet.EtherTypeIPv4}, // unknown neighbour
		{"10.1.0.255", packet.BroadcastMAC(), packet.EtherTypeIPv4},
		{"224.0.0.251", packet.MAC{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}, packet.EtherTypeIPv4},
		{"fd00::2", nsMAC2, packet.EtherTypeIPv6},
		{"ff02::fb", packet.MAC{0x33, 0x33, 0, 0, 0, 0xfb}, packet.EtherTypeIPv6},
	} {
		c, err := d.Net().DialUDPAddrPort(netip.AddrPort{}, netip.MustParseAddrPort(net.JoinHostPort(tc.dst, "9")))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatalf("%s: %v", tc.dst, err)
		}
		c.Close()
		f := readFrame(t, d)
		if !hasHeader(f, tc.mac, nsMAC1, tc.etype) {
			t.Errorf("%s: header % x, want dst %s src %s type %#04x", tc.dst, f[:packet.EthHeaderLen], formatMAC(tc.mac), formatMAC(nsMAC1), tc.etype)
		}
	}
}

func TestNetstackWriteFiltersAndCounts(t *testing.T) {
	checkGoroutines(t)
	d := newTestNetstack(t, nsMAC1, nsAddr1)
	defer d.Close()
	srv, err := d.Net().ListenUDPAddrPort(netip.AddrPortFrom(nsAddr1.Addr(), 4000))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	src := netip.AddrPortFrom(nsAddr2.Addr(), 5000)
	dst := netip.AddrPortFrom(nsAddr1.Addr(), 4000)
	good := ethFrame(nsMAC1, nsMAC2, packet.EtherTypeIPv4, udp4Packet(src, dst, []byte("ok")))
	other := ethFrame(packet.MAC{2, 9, 9, 9, 9, 9}, nsMAC2, packet.EtherTypeIPv4, udp4Packet(src, dst, []byte("not for us")))
	arp := ethFrame(packet.BroadcastMAC(), nsMAC2, packet.EtherTypeARP, make([]byte, 28))
	runt := []byte{1, 2, 3}
	frames := [][]byte{inBuf(other), inBuf(arp), inBuf(runt), inBuf(good)}
	if n, err := d.Write(frames, testOffset); n != len(frames) || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	buf := make([]byte, 64)
	srv.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := srv.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "ok" {
		t.Fatalf("stack received %q, %v; want \"ok\"", buf[:n], err)
	}
	drops := d.Drops()
	for reason, want := range map[string]uint64{"dst_mac": 1, "arp": 1, "runt": 1} {
		if drops[reason] != want {
			t.Errorf("drops[%s] = %d, want %d (all: %v)", reason, drops[reason], want, drops)
		}
	}
}

func TestNetstackReadCountsFramesTooBigForTheBuffer(t *testing.T) {
	checkGoroutines(t)
	d := newTestNetstack(t, nsMAC1, nsAddr1)
	defer d.Close()
	c, err := d.Net().DialUDPAddrPort(netip.AddrPort{}, netip.AddrPortFrom(nsAddr2.Addr(), 9))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(make([]byte, 200)) // does not fit a 100-byte buffer
	c.Write([]byte("x"))       // fits
	bufs, sizes := testBufs(4, 100)
	n, err := d.Read(bufs, sizes, 0)
	if err != nil || n != 1 {
		t.Fatalf("Read = %d, %v; want the small frame", n, err)
	}
	if got := d.Drops()["truncated"]; got != 1 {
		t.Fatalf("truncated drops = %d, want 1", got)
	}
}

func TestNetstackCloseUnblocksReadAndIsIdempotent(t *testing.T) {
	checkGoroutines(t)
	d := newTestNetstack(t, nsMAC1, nsAddr1)
	errc := make(chan error, 1)
	go func() {
		bufs, sizes := testBufs(1, 2000)
		_, err := d.Read(bufs, sizes, 0)
		errc <- err
	}()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := waitErr(t, errc, "Read after Close"); err != ErrClosed {
		t.Fatalf("Read after Close = %v, want ErrClosed", err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if _, err := d.Write([][]byte{make([]byte, 60)}, 0); err != ErrClosed {
		t.Fatalf("Write after Close = %v, want ErrClosed", err)
	}
}

// TestNetstackCloseWithNobodyReading closes a device whose queue is full and
// whose stack has a sender blocked handing over one more packet, as when the
// data path stopped reading first: Close must neither hang nor crash, and the
// sender must come back.
func TestNetstackCloseWithNobodyReading(t *testing.T) {
	checkGoroutines(t)
	d := newTestNetstack(t, nsMAC1, nsAddr1)
	c, err := d.Net().DialUDPAddrPort(netip.AddrPort{}, netip.AddrPortFrom(nsAddr2.Addr(), 9))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range netstackQueueLen {
		if _, err := c.Write(make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(d.ready) < netstackQueueLen {
		if time.Now().After(deadline) {
			t.Fatalf("queue holds %d frames, want %d", len(d.ready), netstackQueueLen)
		}
		time.Sleep(time.Millisecond) // polling
	}
	blocked := make(chan error, 1)
	go func() {
		_, err := c.Write(make([]byte, 100)) // blocks: nobody reads
		blocked <- err
	}()
	// A TCP dial adds the stack's own traffic (SYN, retransmissions).
	dialed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := d.Net().DialContextTCPAddrPort(ctx, netip.AddrPortFrom(nsAddr2.Addr(), 80))
		if err == nil {
			c.Close()
		}
		dialed <- err
	}()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	waitErr(t, blocked, "the blocked sender")
	if err := waitErr(t, dialed, "the dial"); err == nil {
		t.Fatal("dial through a closed stack succeeded")
	}
}

func TestNetstackValidatesConfig(t *testing.T) {
	ok := NetstackConfig{MAC: nsMAC1, Addresses: []netip.Prefix{nsAddr1}}
	for name, tc := range map[string]struct {
		mod  func(*NetstackConfig)
		nb   Neighbors
		want string
	}{
		"nil neighbours": {func(*NetstackConfig) {}, nil, "neighbour table"},
		"zero MAC":       {func(c *NetstackConfig) { c.MAC = packet.MAC{} }, nsNeighbors(), "not a unicast"},
		"group MAC":      {func(c *NetstackConfig) { c.MAC = packet.BroadcastMAC() }, nsNeighbors(), "not a unicast"},
		"small MTU":      {func(c *NetstackConfig) { c.MTU = 576 }, nsNeighbors(), "MTU 576 is out of range"},
		"no address":     {func(c *NetstackConfig) { c.Addresses = nil }, nsNeighbors(), "has no address"},
		"bad prefix":     {func(c *NetstackConfig) { c.Addresses = []netip.Prefix{{}} }, nsNeighbors(), "not valid"},
		"multicast":      {func(c *NetstackConfig) { c.Addresses = []netip.Prefix{netip.MustParsePrefix("224.0.0.1/24")} }, nsNeighbors(), "cannot be a host"},
		"twice":          {func(c *NetstackConfig) { c.Addresses = []netip.Prefix{nsAddr1, nsAddr1} }, nsNeighbors(), "given twice"},
	} {
		cfg := ok
		tc.mod(&cfg)
		d, err := NewNetstack(cfg, tc.nb)
		if err == nil {
			d.Close()
			t.Errorf("%s: accepted", name)
			continue
		}
		if !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
			t.Errorf("%s: error %q does not say %q", name, err, tc.want)
		}
	}
}

func TestNetstackAccessors(t *testing.T) {
	d, err := NewNetstack(NetstackConfig{MAC: nsMAC1, Addresses: []netip.Prefix{nsAddr1}}, nsNeighbors())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Name() != "netstack" || d.MTU() != DefaultNetstackMTU || d.HardwareAddr() != nsMAC1 || d.BatchSize() != netstackBatchSize {
		t.Fatalf("got name %q MTU %d MAC %s batch %d", d.Name(), d.MTU(), formatMAC(d.HardwareAddr()), d.BatchSize())
	}
	if d.Net() == nil {
		t.Fatal("Net is nil")
	}
}

// BenchmarkNetstackTCP measures one TCP stream between two cabled netstack
// devices: the stacks, the framing and the Wire, without an overlay.
func BenchmarkNetstackTCP(b *testing.B) {
	a, peer := netstackPair(b)
	l, err := peer.Net().ListenTCPAddrPort(netip.AddrPortFrom(nsAddr2.Addr(), 5201))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(io.Discard, c)
	}()
	c, err := a.Net().DialTCPAddrPort(netip.AddrPortFrom(nsAddr2.Addr(), 5201))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// queueFrames makes d's stack send k UDP datagrams and waits until the
// device has queued them all.
func queueFrames(t *testing.T, d *Netstack, k int) {
	t.Helper()
	c, err := d.Net().DialUDPAddrPort(netip.AddrPort{}, netip.AddrPortFrom(nsAddr2.Addr(), 9))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range k {
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(d.ready) < k {
		if time.Now().After(deadline) {
			t.Fatalf("%d frames queued, want %d", len(d.ready), k)
		}
		time.Sleep(time.Millisecond) // polling
	}
}

func TestNetstackReadReturnsBatches(t *testing.T) {
	checkGoroutines(t)
	d := newTestNetstack(t, nsMAC1, nsAddr1)
	defer d.Close()
	queueFrames(t, d, 10)
	bufs, sizes := testBufs(8, 2000)
	if n, err := d.Read(bufs, sizes, testOffset); n != 8 || err != nil {
		t.Fatalf("Read = %d, %v; want a full batch of 8", n, err)
	}
	if n, err := d.Read(bufs, sizes, testOffset); n != 2 || err != nil {
		t.Fatalf("Read = %d, %v; want the remaining 2", n, err)
	}
	for i := range 2 {
		if !hasHeader(bufs[i][testOffset:testOffset+sizes[i]], nsMAC2, nsMAC1, packet.EtherTypeIPv4) {
			t.Fatalf("frame %d: bad header", i)
		}
	}
}

func TestNetstackReadAfterCloseIgnoresQueuedFrames(t *testing.T) {
	checkGoroutines(t)
	d := newTestNetstack(t, nsMAC1, nsAddr1)
	queueFrames(t, d, 3)
	d.Close()
	bufs, sizes := testBufs(4, 2000)
	if _, err := d.Read(bufs, sizes, 0); err != ErrClosed {
		t.Fatalf("Read after Close = %v, want ErrClosed", err)
	}
}
