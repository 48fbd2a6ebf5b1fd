package userspace

// The test overlay: two netstack devices cabled back to back. Host "web"
// (10.1.0.1, fd00::1) plays a remote node; host "proxy" (10.1.0.2, fd00::2)
// is the node whose Server is under test, so its Server reaches "web" only
// through the stacks.

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"meshnet.dev/meshnet/internal/packet"
	"meshnet.dev/meshnet/tun"
)

var (
	webAddr4   = netip.MustParseAddr("10.1.0.1")
	webAddr6   = netip.MustParseAddr("fd00::1")
	proxyAddr4 = netip.MustParseAddr("10.1.0.2")
	proxyAddr6 = netip.MustParseAddr("fd00::2")
	webMAC     = packet.MAC{0x02, 0, 0, 0, 0x0b, 0x01}
	proxyMAC   = packet.MAC{0x02, 0, 0, 0, 0x0b, 0x02}
	testPolicy = Subnets{netip.MustParsePrefix("10.1.0.0/24"), netip.MustParsePrefix("fd00::/64")}
)

type mapNeighbors map[netip.Addr]packet.MAC

func (m mapNeighbors) LookupMAC(ip netip.Addr) (packet.MAC, bool) {
	mac, ok := m[ip]
	return mac, ok
}

// testNames is what the test overlay's DNS knows.
func testNames() StaticResolver {
	return StaticResolver{
		"web.mesh":     {webAddr4},
		"web6.mesh":    {webAddr6},
		"outside.mesh": {netip.MustParseAddr("192.0.2.1")},
		"host.mesh":    {netip.MustParseAddr("127.0.0.1")},
		// A silent address first, then web: the dial must move on in time.
		"flaky.mesh": {netip.MustParseAddr("10.1.0.99"), webAddr4},
	}
}

type testNet struct {
	web, proxy *tun.Netstack
}

// newTestNet cables two stacks together. Register it after checkGoroutines.
func newTestNet(t testing.TB) *testNet {
	t.Helper()
	nb := mapNeighbors{webAddr4: webMAC, webAddr6: webMAC, proxyAddr4: proxyMAC, proxyAddr6: proxyMAC}
	web, err := tun.NewNetstack(tun.NetstackConfig{Name: "web", MAC: webMAC, Addresses: []netip.Prefix{
		netip.PrefixFrom(webAddr4, 24), netip.PrefixFrom(webAddr6, 64)}}, nb)
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := tun.NewNetstack(tun.NetstackConfig{Name: "proxy", MAC: proxyMAC, Addresses: []netip.Prefix{
		netip.PrefixFrom(proxyAddr4, 24), netip.PrefixFrom(proxyAddr6, 64)}}, nb)
	if err != nil {
		web.Close()
		t.Fatal(err)
	}
	w := tun.NewWire(web, proxy)
	t.Cleanup(func() { w.Close() })
	return &testNet{web: web, proxy: proxy}
}

// serveWeb runs an HTTP server on web's addresses, port 80, answering
// "hello from the overlay" on every path.
func (n *testNet) serveWeb(t testing.TB) {
	t.Helper()
	for _, a := range []netip.Addr{webAddr4, webAddr6} {
		l, err := NewNetstack(n.web.Net()).ListenTCP(netip.AddrPortFrom(a, 80))
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "hello from the overlay")
		})}
		done := make(chan struct{})
		go func() {
			defer close(done)
			srv.Serve(l)
		}()
		t.Cleanup(func() {
			srv.Close()
			<-done
		})
	}
}

// serveEcho runs a TCP echo server on web:port.
func (n *testNet) serveEcho(t testing.TB, port uint16) {
	t.Helper()
	l, err := NewNetstack(n.web.Net()).ListenTCP(netip.AddrPortFrom(webAddr4, port))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			cut(c)
		}
		mu.Unlock()
		wg.Wait()
	})
}

// countingDialer counts every dial, so tests can prove none happened.
type countingDialer struct {
	Dialer
	calls atomic.Int32
}

func (d *countingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.calls.Add(1)
	return d.Dialer.DialContext(ctx, network, addr)
}

// testConfig enables both proxies on ephemeral loopback ports, with short
// timeouts.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.SOCKS5 = netip.MustParseAddrPort("127.0.0.1:0")
	cfg.HTTPConnect = netip.MustParseAddrPort("127.0.0.1:0")
	cfg.OverlayAddrs = []netip.Addr{proxyAddr4, proxyAddr6}
	cfg.DialTimeout = 2 * time.Second
	cfg.HandshakeTimeout = 2 * time.Second
	return cfg
}

// startServer runs a Server on the proxy stack; cleanup closes it.
func (n *testNet) startServer(t testing.TB, cfg Config) (*Server, *countingDialer) {
	t.Helper()
	stack := NewNetstack(n.proxy.Net())
	dialer := &countingDialer{Dialer: stack}
	s, err := New(cfg, Deps{
		Dialer:   dialer,
		Listener: stack,
		Resolver: testNames(),
		Policy:   testPolicy,
		Logger:   testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dialer
}

// testLogger logs to the test's log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

// checkGoroutines registers a cleanup, run after every cleanup registered
// later, that waits for the goroutine count to fall back to what it is now.
func checkGoroutines(t testing.TB) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Fatalf("%d goroutines leaked:\n%s", runtime.NumGoroutine()-before, buf)
			}
			time.Sleep(10 * time.Millisecond) // polling
		}
	})
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling
	}
}
