package userspace

import (
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// serveUDPEcho runs a UDP echo server on web:port inside the overlay.
func (n *testNet) serveUDPEcho(t testing.TB, port uint16) {
	t.Helper()
	pc, err := NewNetstack(n.web.Net()).ListenUDP(netip.AddrPortFrom(webAddr4, port))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			k, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:k], from)
		}
	}()
	t.Cleanup(func() {
		cut(pc)
		<-done
	})
}

func TestForwardTCPRelaysToTheOverlay(t *testing.T) {
	checkGoroutines(t)
	n := newTestNet(t)
	n.serveWeb(t)
	cfg := testConfig()
	cfg.Forwards = []Forward{
		{Network: "tcp", Host: "web.mesh", Port: 80},
		{Network: "tcp", Host: "fd00::1", Port: 80},
	}
	s, _ := n.startServer(t, cfg)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for _, addr := range s.Bound().Forwards {
		resp, err := client.Get("http://" + addr.String() + "/")
		if err != nil {
			t.Fatalf("through forward on %s: %v", addr, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "hello from the overlay" {
			t.Fatalf("%s: %q", addr, body)
		}
	}
}

func TestForwardFailsFastOnUnknownOrForbiddenNames(t *testing.T) {
	checkGoroutines(t)
	n := newTestNet(t)
	cfg := testConfig()
	cfg.Forwards = []Forward{
		{Network: "tcp", Host: "nosuch.mesh", Port: 80},
		{Network: "tcp", Host: "outside.mesh", Port: 80},
	}
	s, dialer := n.startServer(t, cfg)
	for _, addr := range s.Bound().Forwards {
		start := time.Now()
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("%s: read %v, want the forward to hang up", addr, err)
		}
		c.Close()
		if el := time.Since(start); el > time.Second {
			t.Errorf("%s: took %v to fail", addr, el)
		}
	}
	st := s.Stats()
	if st.UnknownHost != 1 || st.NotAllowed != 1 || dialer.calls.Load() != 0 {
		t.Fatalf("stats %+v, dials %d", st, dialer.calls.Load())
	}
}

func TestForwardUDPKeepsSessionsPerClient(t *testing.T) {
	checkGoroutines(t)
	n := newTestNet(t)
	n.serveUDPEcho(t, 7)
	cfg := testConfig()
	cfg.UDPIdleTimeout = 300 * time.Millisecond
	cfg.Forwards = []Forward{{Network: "udp", Host: "web.mesh", Port: 7}}
	s, _ := n.startServer(t, cfg)
	fwd := s.Bound().Forwards[0]

	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("udp", fwd.String())
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			msg := []byte{'c', byte('0' + i)}
			buf := make([]byte, 16)
			// UDP may drop the first datagram while the session opens:
			// retry until an answer comes, within a deadline.
			deadline := time.Now().Add(5 * time.Second)
			for time.Now().Before(deadline) {
				c.Write(msg)
				c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				k, err := c.Read(buf)
				if err == nil {
					if string(buf[:k]) != string(msg) {
						t.Errorf("client %d got %q", i, buf[:k])
					}
					return
				}
			}
			t.Errorf("client %d: no echo", i)
		}()
	}
	wg.Wait()
	if got := s.Stats().UDPSessions; got != 3 {
		t.Fatalf("%d sessions open, want one per client (3)", got)
	}
	eventually(t, "idle sessions to end", func() bool { return s.Stats().UDPSessions == 0 })
}

func TestForwardUDPSessionLimit(t *testing.T) {
	checkGoroutines(t)
	n := newTestNet(t)
	n.serveUDPEcho(t, 7)
	cfg := testConfig()
	cfg.MaxUDPSessions = 1
	cfg.Forwards = []Forward{{Network: "udp", Host: "10.1.0.1", Port: 7}}
	s, _ := n.startServer(t, cfg)
	fwd := s.Bound().Forwards[0].String()
	first, err := net.Dial("udp", fwd)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	first.Write([]byte("one"))
	eventually(t, "the first session", func() bool { return s.Stats().UDPSessions == 1 })
	second, err := net.Dial("udp", fwd)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	second.Write([]byte("two"))
	eventually(t, "the second client to be turned away", func() bool { return s.Stats().OverLimit == 1 })
	if got := s.Stats().UDPSessions; got != 1 {
		t.Fatalf("%d sessions, want 1", got)
	}
}
