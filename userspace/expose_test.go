package userspace

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

// hostPort returns the port of a loopback listener's address.
func hostPort(t *testing.T, addr net.Addr) uint16 {
	t.Helper()
	ap := addrPortOf(addr)
	if !ap.IsValid() {
		t.Fatalf("no port in %v", addr)
	}
	return ap.Port()
}

func TestExposeTCPMakesALoopbackServiceReachableFromTheOverlay(t *testing.T) {
	checkGoroutines(t)
	n := newTestNet(t)
	host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from the host")
	}))
	defer host.Close()
	cfg := testConfig()
	cfg.Exposes = []Expose{{Network: "tcp", OverlayPort: 8080, LocalPort: hostPort(t, host.Listener.Addr())}}
	n.startServer(t, cfg)

	// From the other node, over the overlay.
	web := NewNetstack(n.web.Net())
	tr := &http.Transport{DialContext: web.DialContext, DisableKeepAlives: true}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for _, url := range []string{"http://10.1.0.2:8080/", "http://[fd00::2]:8080/"} {
		resp, err := client.Get(url)
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "hello from the host" {
			t.Fatalf("%s: %q", url, body)
		}
	}
}

func TestExposeUDP(t *testing.T) {
	checkGoroutines(t)
	n := newTestNet(t)
	host, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			k, from, err := host.ReadFrom(buf)
			if err != nil {
				return
			}
			host.WriteTo(append([]byte("host says "), buf[:k]...), from)
		}
	}()
	defer func() {
		host.Close()
		<-done
	}()
	cfg := testConfig()
	cfg.Exposes = []Expose{{Network: "udp", OverlayPort: 5353, LocalPort: hostPort(t, host.LocalAddr())}}
	n.startServer(t, cfg)

	c, err := NewNetstack(n.web.Net()).DialContext(context.Background(), "udp", "10.1.0.2:5353")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 64)
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.Write([]byte("ping"))
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		k, err := c.Read(buf)
		if err == nil {
			if string(buf[:k]) != "host says ping" {
				t.Fatalf("got %q", buf[:k])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer through the expose: %v", err)
		}
	}
}

func TestExposeWithNothingOnTheHostHangsUp(t *testing.T) {
	checkGoroutines(t)
	n := newTestNet(t)
	// A port nothing listens on: bind one, note it, close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := hostPort(t, l.Addr())
	l.Close()
	cfg := testConfig()
	cfg.Exposes = []Expose{{Network: "tcp", OverlayPort: 9000, LocalPort: port}}
	s, _ := n.startServer(t, cfg)
	c, err := NewNetstack(n.web.Net()).DialContext(context.Background(), "tcp", "10.1.0.2:9000")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read data from an expose with nothing behind it")
	}
	eventually(t, "the failed dial to be counted", func() bool { return s.Stats().DialFailed == 1 })
}
