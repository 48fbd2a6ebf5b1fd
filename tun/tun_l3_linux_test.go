package tun

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"meshnet.dev/meshnet/internal/packet"
	"meshnet.dev/meshnet/internal/testenv"
)

var (
	tunMAC     = packet.MAC{0x02, 0x6d, 0x6e, 0x00, 0x01, 0x01}
	tunHost4   = netip.MustParseAddr("10.98.0.2")
	tunHost6   = netip.MustParseAddr("fd00:98::2")
	tunOwn4    = netip.MustParsePrefix("10.98.0.1/24")
	tunOwn6    = netip.MustParsePrefix("fd00:98::1/64")
	tunNeighbs = mapNeighbors{tunHost4: hostMAC, tunHost6: hostMAC}
)

// newTestTUN creates mntun0 in ns with tunOwn4 and tunOwn6, up.
func newTestTUN(t testing.TB, ns *testNS) *TUN {
	t.Helper()
	cfg := DefaultTUNConfig("mntun0", tunMAC)
	cfg.MTU = 1400
	cfg.Prefixes = []netip.Prefix{tunOwn4, tunOwn6}
	var dev *TUN
	ns.do(t, func() {
		var err error
		if dev, err = CreateTUN(cfg, tunNeighbs); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { dev.Close() })
	})
	ns.configure(t, "mntun0", tunOwn4, tunOwn6)
	return dev
}

func TestTUNKernelPingsThroughDevice(t *testing.T) {
	ns := newTestNS(t)
	dev := newTestTUN(t, ns)
	if dev.Name() != "mntun0" || dev.MTU() != 1400 || dev.HardwareAddr() != tunMAC {
		t.Fatalf("TUN = %q mtu %d mac %s", dev.Name(), dev.MTU(), formatMAC(dev.HardwareAddr()))
	}
	// Offloads on, and reads are batched.
	if dev.BatchSize() < 2 {
		t.Fatalf("BatchSize = %d: offloads are off", dev.BatchSize())
	}
	r := startResponder(t, dev, tunHost4, hostMAC)
	if ok, out := ns.ping(t, tunHost4.String()); !ok {
		t.Fatalf("kernel ping through the TUN failed:\n%s", out)
	}
	if !r.saw(func(f []byte) bool {
		return hasHeader(f, hostMAC, tunMAC, packet.EtherTypeIPv4) && echoReply(f, tunHost4, hostMAC) != nil
	}) {
		t.Error("no echo request framed to the host's MAC was read")
	}
	if err := dev.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the closed TUN to disappear", func() bool { return !ns.linkExists(t, "mntun0") })
}

// TestTUNFramesKernelTrafficByDestination sends real packets from the
// kernel to each kind of destination and checks the header Read puts on
// them.
func TestTUNFramesKernelTrafficByDestination(t *testing.T) {
	ns := newTestNS(t)
	dev := newTestTUN(t, ns)
	r := startResponder(t, dev, tunHost4, hostMAC)
	tests := []struct {
		name  string
		dst   netip.AddrPort
		zone  string
		mac   packet.MAC
		etype uint16
	}{
		{"v4 neighbour", netip.AddrPortFrom(tunHost4, 9), "", hostMAC, packet.EtherTypeIPv4},
		{"v4 unknown neighbour", netip.MustParseAddrPort("10.98.0.77:9"), "", packet.MAC{}, packet.EtherTypeIPv4},
		{"v4 subnet broadcast", netip.MustParseAddrPort("10.98.0.255:9"), "", packet.BroadcastMAC(), packet.EtherTypeIPv4},
		{"v4 multicast", netip.MustParseAddrPort("239.1.2.3:9"), "", packet.MAC{0x01, 0x00, 0x5e, 0x01, 0x02, 0x03}, packet.EtherTypeIPv4},
		{"v6 neighbour", netip.AddrPortFrom(tunHost6, 9), "", hostMAC, packet.EtherTypeIPv6},
		{"v6 multicast", netip.MustParseAddrPort("[ff02::1]:9"), "mntun0", packet.MAC{0x33, 0x33, 0, 0, 0, 1}, packet.EtherTypeIPv6},
	}
	ns.do(t, func() {
		ns.ip(t, "route", "add", "224.0.0.0/4", "dev", "mntun0")
		for _, tt := range tests {
			conn, err := net.ListenUDP("udp", nil)
			if err != nil {
				t.Fatal(err)
			}
			addr := net.UDPAddrFromAddrPort(tt.dst)
			addr.Zone = tt.zone
			// A fresh device has no usable IPv6 source address until its
			// link-local one leaves duplicate address detection.
			deadline := time.Now().Add(10 * time.Second)
			for {
				_, err = conn.WriteToUDP([]byte("marker "+tt.name), addr)
				if !errors.Is(err, unix.EADDRNOTAVAIL) || time.Now().After(deadline) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			conn.Close()
			if err != nil {
				t.Fatalf("%s: send: %v", tt.name, err)
			}
		}
	})
	for _, tt := range tests {
		marker := []byte("marker " + tt.name)
		waitFor(t, "a frame for "+tt.name, func() bool {
			return r.saw(func(f []byte) bool { return bytes.HasSuffix(f, marker) })
		})
		if !r.saw(func(f []byte) bool { return bytes.HasSuffix(f, marker) && hasHeader(f, tt.mac, tunMAC, tt.etype) }) {
			t.Errorf("%s: frame not addressed to %s with EtherType %#04x", tt.name, formatMAC(tt.mac), tt.etype)
		}
	}
}

// TestTUNReadSplitsSegmentationOffload sends one UDP GSO super-packet; the
// kernel hands it to the TUN whole and Read returns its segments as frames
// in a single batch.
func TestTUNReadSplitsSegmentationOffload(t *testing.T) {
	ns := newTestNS(t)
	dev := newTestTUN(t, ns)
	r := startResponder(t, dev, tunHost4, hostMAC)
	const segments, segSize = 8, 1000
	payload := make([]byte, segments*segSize)
	for i := range segments {
		copy(payload[i*segSize:], fmt.Sprintf("segment %d", i))
	}
	ns.do(t, func() {
		conn, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(tunHost4, 7)))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		rc, err := conn.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT, segSize)
		}); err != nil || serr != nil {
			t.Fatalf("UDP_SEGMENT: %v %v", err, serr)
		}
		if _, err := conn.Write(payload); err != nil {
			t.Fatal(err)
		}
	})
	for i := range segments {
		marker := []byte(fmt.Sprintf("segment %d", i))
		waitFor(t, string(marker), func() bool {
			return r.saw(func(f []byte) bool {
				return len(f) == packet.EthHeaderLen+28+segSize && bytes.HasPrefix(f[packet.EthHeaderLen+28:], marker) &&
					hasHeader(f, hostMAC, tunMAC, packet.EtherTypeIPv4) &&
					binary.BigEndian.Uint16(f[packet.EthHeaderLen+2:]) == 28+segSize
			})
		})
	}
	if got := r.maxBatch(); got < segments {
		t.Errorf("largest read batch was %d frames; the %d segments were not read as one super-packet", got, segments)
	}
}

// TestTUNWriteDeliversAndFilters writes a batch of UDP frames to a socket in
// the namespace, interleaved with frames the TUN must drop; the socket gets
// every datagram and the drops are counted by reason.
func TestTUNWriteDeliversAndFilters(t *testing.T) {
	ns := newTestNS(t)
	dev := newTestTUN(t, ns)
	var conn *net.UDPConn
	ns.do(t, func() {
		var err error
		conn, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(tunOwn4.Addr(), 5000)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
	})
	src, dst := netip.AddrPortFrom(tunHost4, 6000), netip.AddrPortFrom(tunOwn4.Addr(), 5000)
	const datagrams = 8
	bad := [][]byte{
		ethFrame(packet.BroadcastMAC(), hostMAC, packet.EtherTypeARP, make([]byte, 28)),
		ethFrame(tunMAC, hostMAC, 0x8100, udp4Packet(src, dst, []byte("vlan"))),
		ethFrame(hostMAC, tunMAC, packet.EtherTypeIPv4, udp4Packet(src, dst, []byte("not ours"))),
		ethFrame(tunMAC, hostMAC, packet.EtherTypeIPv4, nil),
		ethFrame(tunMAC, hostMAC, packet.EtherTypeIPv6, udp4Packet(src, dst, make([]byte, 40))),
	}
	var bufs [][]byte
	for i := range datagrams {
		payload := make([]byte, 1000)
		copy(payload, fmt.Sprintf("datagram %d", i))
		bufs = append(bufs, inBuf(ethFrame(tunMAC, hostMAC, packet.EtherTypeIPv4, udp4Packet(src, dst, payload))))
		if i < len(bad) {
			bufs = append(bufs, inBuf(bad[i]))
		}
	}
	n, err := dev.Write(bufs, testOffset)
	if err != nil || n != len(bufs) {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(bufs))
	}
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2000)
	for i := range datagrams {
		m, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if want := fmt.Sprintf("datagram %d", i); m != 1000 || !bytes.HasPrefix(buf[:m], []byte(want)) || from != src {
			t.Fatalf("got %d bytes %q from %s, want %q from %s", m, buf[:12], from, want, src)
		}
	}
	want := map[string]uint64{"arp": 1, "ethertype": 1, "dst_mac": 1, "runt": 1, "ip_version": 1, "not_ip": 0, "segments": 0, "truncated": 0, "bad_offload": 0}
	if got := dev.Drops(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Drops = %v, want %v", got, want)
	}
}

func TestTUNCloseUnblocksRead(t *testing.T) {
	ns := newTestNS(t)
	dev := newTestTUN(t, ns)
	done := make(chan error, 1)
	go func() {
		bufs, sizes := testBufs(dev.BatchSize(), testBufSize)
		for {
			if _, err := dev.Read(bufs, sizes, testOffset); err != nil {
				done <- err
				return
			}
		}
	}()
	dev.Close()
	if err := waitErr(t, done, "Read on a closed TUN"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read = %v, want ErrClosed", err)
	}
	if _, err := dev.Write([][]byte{inBuf(make([]byte, 60))}, testOffset); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close = %v, want ErrClosed", err)
	}
}

func TestTUNRejectsBadConfig(t *testing.T) {
	for name, c := range map[string]struct {
		cfg TUNConfig
		nb  Neighbors
	}{
		"nil neighbours": {DefaultTUNConfig("x", tunMAC), nil},
		"zero MAC":       {DefaultTUNConfig("x", packet.MAC{}), tunNeighbs},
		"group MAC":      {DefaultTUNConfig("x", packet.MAC{0x33, 0x33, 0, 0, 0, 1}), tunNeighbs},
		"bad prefix":     {TUNConfig{Name: "x", MAC: tunMAC, Prefixes: []netip.Prefix{{}}, Owner: -1, Group: -1}, tunNeighbs},
		"negative MTU":   {TUNConfig{Name: "x", MAC: tunMAC, MTU: -5, Owner: -1, Group: -1}, tunNeighbs},
	} {
		if _, err := CreateTUN(c.cfg, c.nb); err == nil {
			t.Errorf("%s: CreateTUN succeeded", name)
		}
	}
}

func TestRandomMACIsLocalUnicast(t *testing.T) {
	a, err := RandomMAC()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := RandomMAC()
	if a[0]&1 != 0 || a[0]&2 == 0 || a == b {
		t.Fatalf("RandomMAC = %s, %s", formatMAC(a), formatMAC(b))
	}
}

func TestTUNReadWriteDoNotAllocate(t *testing.T) {
	testenv.SkipAllocsUnderRace(t)
	ns := newTestNS(t)
	dev := newTestTUN(t, ns)
	var out, in *net.UDPConn
	ns.do(t, func() {
		var err error
		if out, err = net.ListenUDP("udp4", nil); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { out.Close() })
		if in, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(tunOwn4.Addr(), 5000))); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { in.Close() })
		if err := in.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
			t.Fatal(err)
		}
	})
	toHost := netip.AddrPortFrom(tunHost4, 9)
	frame := ethFrame(tunMAC, hostMAC, packet.EtherTypeIPv4, udp4Packet(netip.AddrPortFrom(tunHost4, 6000), netip.AddrPortFrom(tunOwn4.Addr(), 5000), make([]byte, 100)))
	wbufs := [][]byte{inBuf(frame)}
	rbufs, sizes := testBufs(dev.BatchSize(), testBufSize)
	payload, sink := make([]byte, 100), make([]byte, 200)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := out.WriteToUDPAddrPort(payload, toHost); err != nil {
			t.Fatal(err)
		}
		if _, err := dev.Read(rbufs, sizes, testOffset); err != nil {
			t.Fatal(err)
		}
		copy(wbufs[0][testOffset:], frame) // Write modifies frames
		if _, err := dev.Write(wbufs, testOffset); err != nil {
			t.Fatal(err)
		}
		if _, _, err := in.ReadFromUDPAddrPort(sink); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("TUN Read+Write allocate %.1f times per round, want 0", allocs)
	}
}

// BenchmarkTUNWrite measures writing batches of 64 UDP frames of one flow,
// which the device coalesces before handing them to the kernel.
func BenchmarkTUNWrite(b *testing.B) {
	ns := newTestNS(b)
	dev := newTestTUN(b, ns)
	src, dst := netip.AddrPortFrom(tunHost4, 6000), netip.AddrPortFrom(tunOwn4.Addr(), 5001)
	frame := ethFrame(tunMAC, hostMAC, packet.EtherTypeIPv4, udp4Packet(src, dst, make([]byte, 1300)))
	bufs := make([][]byte, 64)
	for i := range bufs {
		bufs[i] = inBuf(frame)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(bufs) * len(frame)))
	for b.Loop() {
		for _, buf := range bufs {
			copy(buf[testOffset:], frame)
		}
		if _, err := dev.Write(bufs, testOffset); err != nil {
			b.Fatal(err)
		}
	}
}
