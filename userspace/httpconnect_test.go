package userspace

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"
)

// httpConnect sends raw to the proxy and returns the response (its body
// read) and the connection, with a reader positioned after the response.
func httpConnect(t *testing.T, proxyAddr netip.AddrPort, raw string) (*http.Response, string, *bufio.Reader, net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", proxyAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatalf("reading the proxy's response to %q: %v", raw, err)
	}
	var body string
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
	}
	return resp, body, br, c
}

func TestHTTPConnectFetchesPagesFromTheOverlay(t *testing.T) {
	checkGoroutines(t)
	n := newTestNet(t)
	n.serveWeb(t)
	s, _ := n.startServer(t, testConfig())
	for _, target := range []string{"web.mesh:80", "10.1.0.1:80", "[fd00::1]:80", "web6.mesh:80"} {
		resp, _, br, c := httpConnect(t, s.Bound().HTTPConnect, "CONNECT "+target+" HTTP/1.1\r\nHost: "+target+"\r\nUser-Agent: test\r\n\r\n")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s", target, resp.Status)
		}
		req, _ := http.NewRequest(http.MethodGet, "http://"+target+"/", nil)
		if err := req.Write(c); err != nil {
			t.Fatal(err)
		}
		page, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		body, _ := io.ReadAll(page.Body)
		if string(body) != "hello from the overlay" {
			t.Fatalf("%s: page %q", target, body)
		}
		c.Close()
	}
}

func TestHTTPConnectRefusals(t *testing.T) {
	checkGoroutines(t)
	n := newTestNet(t)
	cfg := testConfig()
	cfg.DialTimeout = 300 * time.Millisecond
	s, dialer := n.startServer(t, cfg)
	for _, tc := range []struct {
		raw    string
		status int
		says   string
	}{
		{"GET http://web.mesh/ HTTP/1.1\r\nHost: web.mesh\r\n\r\n", 405, "only tunnels"},
		{"CONNECT 127.0.0.1:22 HTTP/1.1\r\n\r\n", 403, "outside the overlay"},
		{"CONNECT 192.0.2.1:443 HTTP/1.1\r\n\r\n", 403, "outside the overlay"},
		{"CONNECT outside.mesh:443 HTTP/1.1\r\n\r\n", 403, "outside the overlay"},
		{"CONNECT [::1]:443 HTTP/1.1\r\n\r\n", 403, "outside the overlay"},
		{"CONNECT nosuch.mesh:443 HTTP/1.1\r\n\r\n", 502, "unknown host"},
		{"CONNECT web.mesh HTTP/1.1\r\n\r\n", 400, "host:port"},
		{"CONNECT web.mesh:0 HTTP/1.1\r\n\r\n", 400, "port"},
		{"CONNECT fd00::1:80 HTTP/1.1\r\n\r\n", 400, "host:port"},
		{"CONNECT web.mesh:80 HTTP/2.0\r\n\r\n", 400, "HTTP/1"},
		{"CONNECT web.mesh:80 HTTP/1.1\r\n" + strings.Repeat("X-Filler: "+strings.Repeat("y", 200)+"\r\n", 60) + "\r\n", 431, "over"},
		{"CONNECT web.mesh:80 HTTP/1.1\r\n" + strings.Repeat("A: b\r\n", 70) + "\r\n", 431, "header lines"},
		{"CONNECT web.mesh:80 HTTP/1.1\r\nno colon here\r\n\r\n", 400, "malformed"},
	} {
		resp, body, _, _ := httpConnect(t, s.Bound().HTTPConnect, tc.raw)
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.says) {
			t.Errorf("%.40q: %s %q; want %d saying %q", tc.raw, resp.Status, body, tc.status, tc.says)
		}
		if tc.status == 405 && resp.Header.Get("Allow") != "CONNECT" {
			t.Errorf("405 without Allow: CONNECT")
		}
	}
	if c := dialer.calls.Load(); c != 0 {
		t.Fatalf("the proxy dialled %d times for refused requests", c)
	}
	// Reachable by policy but not in fact: refused (502) and silent (504).
	for target, want := range map[string]int{"10.1.0.1:81": 502, "10.1.0.99:81": 504} {
		resp, _, _, _ := httpConnect(t, s.Bound().HTTPConnect, "CONNECT "+target+" HTTP/1.1\r\n\r\n")
		if resp.StatusCode != want {
			t.Errorf("%s: %s, want %d", target, resp.Status, want)
		}
	}
}

// TestHTTPConnectThroughAStandardClient uses net/http's proxy support: an
// https-style tunnel works; a plain http:// request (sent as GET to the
// proxy) is told to use CONNECT.
func TestHTTPConnectThroughAStandardClient(t *testing.T) {
	checkGoroutines(t)
	n := newTestNet(t)
	n.serveWeb(t)
	s, _ := n.startServer(t, testConfig())
	proxyURL, _ := url.Parse("http://" + s.Bound().HTTPConnect.String())
	tr := &http.Transport{Proxy: http.ProxyURL(proxyURL)}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("http://web.mesh/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(string(body), "CONNECT") {
		t.Fatalf("plain GET through the proxy: %s %q", resp.Status, body)
	}
}

func TestHTTPConnectHandshakeDeadline(t *testing.T) {
	checkGoroutines(t)
	n := newTestNet(t)
	cfg := testConfig()
	cfg.HandshakeTimeout = 200 * time.Millisecond
	s, _ := n.startServer(t, cfg)
	c, err := net.Dial("tcp", s.Bound().HTTPConnect.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "CONNECT web.mesh:80 HTTP/1.1\r\n") // and never the blank line
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read %v, want EOF when the proxy gives up", err)
	}
}
