package userspace

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestCloseStopsEverything runs every kind of relay with traffic in flight,
// then closes the Server: clients are cut off, listeners are gone, and no
// goroutine is left (checkGoroutines).
func TestCloseStopsEverything(t *testing.T) {
	checkGoroutines(t)
	n := newTestNet(t)
	n.serveEcho(t, 7)
	n.serveUDPEcho(t, 7)
	hostEcho, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hostEcho.Close()
	go func() {
		for {
			c, err := hostEcho.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	cfg := testConfig()
	cfg.Forwards = []Forward{{Network: "tcp", Host: "web.mesh", Port: 7}, {Network: "udp", Host: "web.mesh", Port: 7}}
	cfg.Exposes = []Expose{{Network: "tcp", OverlayPort: 7007, LocalPort: hostPort(t, hostEcho.Addr())}}
	s, _ := n.startServer(t, cfg)
	b := s.Bound()

	// An open relay of each kind, each proven to carry data.
	_, socks := socksDial(t, b.SOCKS5, socksRequestBytes(socksCmdConnect, "web.mesh", 7))
	_, _, _, httpc := httpConnect(t, b.HTTPConnect, "CONNECT web.mesh:7 HTTP/1.1\r\n\r\n")
	fwd, err := net.Dial("tcp", b.Forwards[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer fwd.Close()
	exposed, err := NewNetstack(n.web.Net()).DialContext(context.Background(), "tcp", "10.1.0.2:7007")
	if err != nil {
		t.Fatal(err)
	}
	defer exposed.Close()
	conns := map[string]net.Conn{"socks5": socks, "http": httpc, "forward": fwd, "expose": exposed}
	for name, c := range conns {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, "ping"); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
			t.Fatalf("%s relay: %q, %v", name, buf, err)
		}
	}
	udp, err := net.Dial("udp", b.Forwards[1].String())
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	udp.Write([]byte("x"))
	eventually(t, "a UDP session", func() bool { return s.Stats().UDPSessions == 1 })

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for name, c := range conns {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := c.Read(make([]byte, 1))
		if ne := net.Error(nil); err == nil || errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("%s relay still open after Close (%v)", name, err)
		}
	}
	if s.Stats().UDPSessions != 0 {
		t.Errorf("%d UDP sessions after Close", s.Stats().UDPSessions)
	}
	for _, a := range []netip.AddrPort{b.SOCKS5, b.HTTPConnect, b.Forwards[0]} {
		if c, err := net.Dial("tcp", a.String()); err == nil {
			c.Close()
			t.Errorf("%s still accepts after Close", a)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestConnectionLimit(t *testing.T) {
	checkGoroutines(t)
	n := newTestNet(t)
	n.serveEcho(t, 7)
	cfg := testConfig()
	cfg.MaxConns = 2
	s, _ := n.startServer(t, cfg)
	b := s.Bound()
	_, first := socksDial(t, b.SOCKS5, socksRequestBytes(socksCmdConnect, "web.mesh", 7))
	_, _, _, second := httpConnect(t, b.HTTPConnect, "CONNECT web.mesh:7 HTTP/1.1\r\n\r\n")

	// Full: SOCKS5 clients are hung up on, HTTP clients get a 503.
	c, err := net.Dial("tcp", b.SOCKS5.String())
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte{5, 1, 0})
	if _, err := c.Read(make([]byte, 2)); err == nil {
		t.Fatal("a SOCKS5 client over the limit was served")
	}
	c.Close()
	resp, body, _, _ := httpConnect(t, b.HTTPConnect, "CONNECT web.mesh:7 HTTP/1.1\r\n\r\n")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "too many") {
		t.Fatalf("HTTP over the limit: %s %q", resp.Status, body)
	}
	if got := s.Stats().OverLimit; got != 2 {
		t.Fatalf("OverLimit = %d, want 2", got)
	}

	// A slot frees when a relay ends.
	first.Close()
	second.Close()
	eventually(t, "slots to free up", func() bool { return len(s.slots) == 0 })
	if rep, _ := socksDial(t, b.SOCKS5, socksRequestBytes(socksCmdConnect, "web.mesh", 7)); rep != socksSucceeded {
		t.Fatalf("after the relays ended: reply %#x", rep)
	}
}

func TestNewFailsCleanlyOnABusyPort(t *testing.T) {
	checkGoroutines(t)
	n := newTestNet(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := testConfig()
	cfg.Forwards = []Forward{{Network: "tcp", LocalPort: hostPort(t, busy.Addr()), Host: "web.mesh", Port: 80}}
	_, err = New(cfg, Deps{Dialer: NewNetstack(n.proxy.Net()), Policy: testPolicy})
	if err == nil || !strings.Contains(err.Error(), "forward") || !strings.Contains(err.Error(), "pick another LOCALPORT") {
		t.Fatalf("New on a busy port: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	deps := Deps{Dialer: &net.Dialer{}, Policy: testPolicy}
	for name, tc := range map[string]struct {
		mod  func(*Config)
		deps Deps
		want string
	}{
		"no dialer":       {func(*Config) {}, Deps{Policy: testPolicy}, "Dialer"},
		"zero max conns":  {func(c *Config) { c.MaxConns = 0 }, deps, "max_conns"},
		"zero timeout":    {func(c *Config) { c.DialTimeout = 0 }, deps, "dial_timeout"},
		"bad network":     {func(c *Config) { c.Forwards = []Forward{{Network: "sctp", Host: "a", Port: 1}} }, deps, "forwards[0]"},
		"bad host":        {func(c *Config) { c.Forwards = []Forward{{Network: "tcp", Host: "a b", Port: 1}} }, deps, "host name"},
		"no port":         {func(c *Config) { c.Forwards = []Forward{{Network: "tcp", Host: "a"}} }, deps, "destination port"},
		"expose no addrs": {func(c *Config) { c.Exposes = []Expose{{Network: "tcp", OverlayPort: 1, LocalPort: 1}} }, deps, "overlay addresses"},
		"expose port 0":   {func(c *Config) { c.Exposes = []Expose{{Network: "udp", LocalPort: 1}} }, deps, "exposes[0]"},
		"no loopback":     {func(c *Config) { c.Loopback = netip.Addr{} }, deps, "loopback"},
	} {
		cfg := DefaultConfig()
		tc.mod(&cfg)
		if _, err := New(cfg, tc.deps); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error mentioning %q", name, err, tc.want)
		}
	}
	cfg := DefaultConfig()
	cfg.Forwards = []Forward{{Network: "tcp", Host: "fd00::1", LocalPort: 0, Port: 80}}
	s, err := New(cfg, deps)
	if err != nil {
		t.Fatalf("a valid config: %v", err)
	}
	s.Close()
}

func TestSubnetsPolicy(t *testing.T) {
	for addr, want := range map[string]bool{
		"10.1.0.7":         true,
		"fd00::7":          true,
		"::ffff:10.1.0.7":  true,
		"10.2.0.7":         false,
		"127.0.0.1":        false,
		"::1":              false,
		"fe80::1%eth0":     false,
		"ff02::1":          false,
		"::ffff:127.0.0.1": false,
	} {
		if got := testPolicy.Allowed(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Allowed(%s) = %v, want %v", addr, got, want)
		}
	}
	if (Subnets{}).Allowed(netip.MustParseAddr("10.1.0.7")) {
		t.Error("an empty policy allowed an address")
	}
}

// TestDialMovesOnFromASilentAddress: a name with a silent address and a
// live one is reached through the live one within DialTimeout.
func TestDialMovesOnFromASilentAddress(t *testing.T) {
	checkGoroutines(t)
	n := newTestNet(t)
	n.serveEcho(t, 7)
	cfg := testConfig()
	cfg.DialTimeout = time.Second
	s, dialer := n.startServer(t, cfg)
	start := time.Now()
	if rep, _ := socksDial(t, s.Bound().SOCKS5, socksRequestBytes(socksCmdConnect, "flaky.mesh", 7)); rep != socksSucceeded {
		t.Fatalf("reply %#x, want success through the second address", rep)
	}
	if el := time.Since(start); el > cfg.DialTimeout {
		t.Fatalf("took %v, more than DialTimeout", el)
	}
	if c := dialer.calls.Load(); c != 2 {
		t.Fatalf("%d dials, want 2", c)
	}
}
