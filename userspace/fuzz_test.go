package userspace

// Fuzz targets for everything that parses untrusted input. Seeds live in
// testdata/fuzz and run with every go test.

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// encodeSOCKSRequest is the canonical encoding of req.
func encodeSOCKSRequest(req socksRequest) []byte {
	host := req.dest.name
	if req.dest.addr.IsValid() {
		host = req.dest.addr.String()
	}
	return socksRequestBytes(req.cmd, host, req.dest.port)
}

// FuzzSOCKS5Handshake parses a greeting and then a request from the bytes
// after it: no panic, lengths within the input and the protocol's bounds,
// and a parsed request survives re-encoding unchanged.
func FuzzSOCKS5Handshake(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		n, _, err := parseSOCKSGreeting(b)
		checkSOCKSErr(t, err)
		if err != nil {
			return
		}
		if n > len(b) || n > maxSOCKSGreeting || n != 2+int(b[1]) {
			t.Fatalf("greeting length %d of %d bytes", n, len(b))
		}
		req, m, err := parseSOCKSRequest(b[n:])
		checkSOCKSErr(t, err)
		if err != nil {
			return
		}
		if m > len(b)-n || m > maxSOCKSRequest {
			t.Fatalf("request length %d of %d bytes", m, len(b)-n)
		}
		again, k, err := parseSOCKSRequest(encodeSOCKSRequest(req))
		if err != nil || again != req || k != len(encodeSOCKSRequest(req)) {
			t.Fatalf("%+v re-encodes to %+v (%v)", req, again, err)
		}
	})
}

func checkSOCKSErr(t *testing.T, err error) {
	var se *socksError
	if err != nil && err != errIncomplete && !errors.As(err, &se) {
		t.Fatalf("unexpected error type %T: %v", err, err)
	}
}

// FuzzConnectRequest parses a request header block: no panic, errors are
// HTTP refusals (or "incomplete" below the size limit), and an accepted
// request ends in a blank line and names a valid host:port.
func FuzzConnectRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		d, n, err := parseConnectRequest(b)
		var he *httpError
		switch {
		case err == errIncomplete:
			if len(b) >= maxHTTPHeaderBytes {
				t.Fatalf("incomplete with %d bytes", len(b))
			}
			return
		case errors.As(err, &he):
			if he.status < 400 || he.status > 599 || he.msg == "" {
				t.Fatalf("refusal %d %q", he.status, he.msg)
			}
			return
		case err != nil:
			t.Fatalf("unexpected error type %T: %v", err, err)
		}
		if n > len(b) || n > maxHTTPHeaderBytes || b[n-1] != '\n' {
			t.Fatalf("block length %d of %d bytes", n, len(b))
		}
		if !bytes.HasPrefix(b, []byte("CONNECT ")) || d.port == 0 {
			t.Fatalf("accepted %q as %+v", b[:n], d)
		}
		if d.addr.IsValid() == (d.name != "") || (!d.addr.IsValid() && checkName(d.name) != nil) || d.addr.Zone() != "" {
			t.Fatalf("accepted destination %+v", d)
		}
	})
}

// FuzzParseForward: no panic; an accepted spec prints back to a spec that
// parses to the same forward; a refused one quotes the syntax.
func FuzzParseForward(f *testing.F) {
	f.Fuzz(func(t *testing.T, spec string) {
		fw, err := ParseForward(spec)
		if err != nil {
			if !strings.Contains(err.Error(), ForwardSyntax) {
				t.Fatalf("error without the syntax: %v", err)
			}
			return
		}
		if fw.LocalPort == 0 || fw.Port == 0 || (fw.Network != "tcp" && fw.Network != "udp") {
			t.Fatalf("accepted %q as %+v", spec, fw)
		}
		if a, err := netip.ParseAddr(fw.Host); err == nil && a.Zone() != "" {
			t.Fatalf("accepted a zone in %q", spec)
		}
		again, err := ParseForward(fw.String())
		if err != nil || again != fw {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", spec, fw, fw.String(), again, err)
		}
	})
}

// FuzzParseExpose: as FuzzParseForward.
func FuzzParseExpose(f *testing.F) {
	f.Fuzz(func(t *testing.T, spec string) {
		e, err := ParseExpose(spec)
		if err != nil {
			if !strings.Contains(err.Error(), ExposeSyntax) {
				t.Fatalf("error without the syntax: %v", err)
			}
			return
		}
		if e.OverlayPort == 0 || e.LocalPort == 0 {
			t.Fatalf("accepted %q as %+v", spec, e)
		}
		again, err := ParseExpose(e.String())
		if err != nil || again != e {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", spec, e, e.String(), again, err)
		}
	})
}
