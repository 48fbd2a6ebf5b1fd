package userspace

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/proxy"
)

// socksRequestBytes encodes a request for host (an IP becomes ATYP 1 or 4, a
// name or zoned address ATYP 3).
func socksRequestBytes(cmd byte, host string, port uint16) []byte {
	b := []byte{socksVersion, cmd, 0}
	if a, err := netip.ParseAddr(host); err == nil && a.Zone() == "" {
		if a.Is4() {
			b = append(b, socksAtypIPv4)
		} else {
			b = append(b, socksAtypIPv6)
		}
		b = append(b, a.AsSlice()...)
	} else {
		b = append(b, socksAtypName, byte(len(host)))
		b = append(b, host...)
	}
	return binary.BigEndian.AppendUint16(b, port)
}

// socksDial performs a raw SOCKS5 handshake and returns the reply code and
// the connection (open on success).
func socksDial(t *testing.T, proxyAddr netip.AddrPort, req []byte) (byte, net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", proxyAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(append([]byte{5, 1, socksMethodNoAuth}, req...)); err != nil {
		t.Fatal(err)
	}
	var sel [2]byte
	if _, err := io.ReadFull(c, sel[:]); err != nil || sel != [2]byte{5, 0} {
		t.Fatalf("method selection %v, %v", sel, err)
	}
	var head [4]byte
	if _, err := io.ReadFull(c, head[:]); err != nil {
		t.Fatalf("reading the reply: %v", err)
	}
	skip := map[byte]int{socksAtypIPv4: 4 + 2, socksAtypIPv6: 16 + 2}[head[3]]
	if _, err := io.ReadFull(c, make([]byte, skip)); err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Time{})
	return head[1], c
}

func TestSOCKS5FetchesPagesFromTheOverlay(t *testing.T) {
	checkGoroutines(t)
	n := newTestNet(t)
	n.serveWeb(t)
	s, _ := n.startServer(t, testConfig())
	d, err := proxy.SOCKS5("tcp", s.Bound().SOCKS5.String(), nil, proxy.Direct)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{DialContext: d.(proxy.ContextDialer).DialContext}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for _, url := range []string{"http://web.mesh/", "http://10.1.0.1/", "http://[fd00::1]/", "http://WEB.mesh./"} {
		resp, err := client.Get(url)
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "hello from the overlay" {
			t.Fatalf("%s: %q", url, body)
		}
	}
}

func TestSOCKS5RefusesDestinationsOutsideTheOverlay(t *testing.T) {
	checkGoroutines(t)
	n := newTestNet(t)
	s, dialer := n.startServer(t, testConfig())
	for _, host := range []string{"127.0.0.1", "192.0.2.1", "::1", "::ffff:127.0.0.1", "outside.mesh", "host.mesh", "0.0.0.0", "224.0.0.1"} {
		rep, _ := socksDial(t, s.Bound().SOCKS5, socksRequestBytes(socksCmdConnect, host, 80))
		if rep != socksNotAllowed {
			t.Errorf("%s: reply %#x, want %#x (not allowed by ruleset)", host, rep, socksNotAllowed)
		}
	}
	if c := dialer.calls.Load(); c != 0 {
		t.Fatalf("the proxy dialled %d times for refused destinations", c)
	}
	if got := s.Stats().NotAllowed; got != 8 {
		t.Fatalf("NotAllowed = %d, want 8", got)
	}
}

func TestSOCKS5UnknownNameIsHostUnreachableAtOnce(t *testing.T) {
	checkGoroutines(t)
	n := newTestNet(t)
	s, dialer := n.startServer(t, testConfig())
	start := time.Now()
	rep, _ := socksDial(t, s.Bound().SOCKS5, socksRequestBytes(socksCmdConnect, "nosuch.mesh", 80))
	if rep != socksHostUnreach {
		t.Fatalf("reply %#x, want host unreachable", rep)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("took %v", el)
	}
	if dialer.calls.Load() != 0 {
		t.Fatal("dialled an unknown name")
	}
}

func TestSOCKS5RepliesForUnreachableAndRefused(t *testing.T) {
	checkGoroutines(t)
	n := newTestNet(t)
	cfg := testConfig()
	cfg.DialTimeout = 300 * time.Millisecond
	s, _ := n.startServer(t, cfg)
	// Nobody listens on web:81: the stack resets. Nobody has 10.1.0.99: no answer.
	for host, want := range map[string]byte{"10.1.0.1": socksRefused, "10.1.0.99": socksHostUnreach} {
		port := uint16(81)
		rep, _ := socksDial(t, s.Bound().SOCKS5, socksRequestBytes(socksCmdConnect, host, port))
		if rep != want {
			t.Errorf("%s: reply %#x, want %#x", host, rep, want)
		}
	}
}

func TestSOCKS5RefusesWhatItDoesNotSupport(t *testing.T) {
	checkGoroutines(t)
	n := newTestNet(t)
	s, dialer := n.startServer(t, testConfig())
	for name, tc := range map[string]struct {
		req  []byte
		want byte
	}{
		"bind":          {socksRequestBytes(2, "10.1.0.1", 80), socksCmdUnsupported},
		"udp associate": {socksRequestBytes(3, "10.1.0.1", 80), socksCmdUnsupported},
		"address type":  {[]byte{5, 1, 0, 9, 1, 2, 3, 4, 0, 80}, socksAtypUnsupport},
		"empty name":    {[]byte{5, 1, 0, socksAtypName, 0, 0, 80}, socksHostUnreach},
	} {
		if rep, _ := socksDial(t, s.Bound().SOCKS5, tc.req); rep != tc.want {
			t.Errorf("%s: reply %#x, want %#x", name, rep, tc.want)
		}
	}
	// A client that only offers username/password gets "no acceptable methods".
	c, err := net.Dial("tcp", s.Bound().SOCKS5.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte{5, 1, 2})
	got, _ := io.ReadAll(c)
	if !bytes.Equal(got, []byte{5, socksNoMethod}) {
		t.Fatalf("auth-only greeting got %v, want [5 255] and close", got)
	}
	if dialer.calls.Load() != 0 {
		t.Fatal("dialled for an unsupported request")
	}
}

func TestSOCKS5HandshakeDeadline(t *testing.T) {
	checkGoroutines(t)
	n := newTestNet(t)
	cfg := testConfig()
	cfg.HandshakeTimeout = 200 * time.Millisecond
	s, _ := n.startServer(t, cfg)
	c, err := net.Dial("tcp", s.Bound().SOCKS5.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte{5}) // half a greeting, then silence
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read %v, want EOF when the proxy gives up", err)
	}
	eventually(t, "the bad request to be counted", func() bool { return s.Stats().BadRequest == 1 })
}

// TestSOCKS5EarlyData sends greeting, request and payload in one write, as
// optimistic clients do: the payload must reach the destination.
func TestSOCKS5EarlyData(t *testing.T) {
	checkGoroutines(t)
	n := newTestNet(t)
	n.serveEcho(t, 7)
	s, _ := n.startServer(t, testConfig())
	c, err := net.Dial("tcp", s.Bound().SOCKS5.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	msg := append([]byte{5, 1, 0}, socksRequestBytes(socksCmdConnect, "web.mesh", 7)...)
	msg = append(msg, "early bird"...)
	c.Write(msg)
	got := make([]byte, 2+10+len("early bird"))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if got[3] != socksSucceeded || string(got[12:]) != "early bird" {
		t.Fatalf("got %q", got)
	}
}

func TestSOCKS5ReplyBindsTheOverlayAddress(t *testing.T) {
	checkGoroutines(t)
	n := newTestNet(t)
	n.serveEcho(t, 7)
	s, _ := n.startServer(t, testConfig())
	c, err := net.Dial("tcp", s.Bound().SOCKS5.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write(append([]byte{5, 1, 0}, socksRequestBytes(socksCmdConnect, "10.1.0.1", 7)...))
	got := make([]byte, 2+10)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if bind := netip.AddrFrom4([4]byte(got[6:10])); got[5] != socksAtypIPv4 || bind != proxyAddr4 {
		t.Fatalf("reply %v: bound %s, want %s", got, bind, proxyAddr4)
	}
}
