package userspace

// HTTP CONNECT requests (RFC 9110, section 9.3.6), parsed from a byte slice
// so the parser can be fuzzed apart from any connection:
//
//	CONNECT host:port HTTP/1.1\r\n
//	Host: host:port\r\n          (any headers; their values are ignored)
//	\r\n
//
// Bare \n line ends are accepted too.

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// Limits on a request's header block.
const (
	maxHTTPHeaderBytes = 8 << 10
	maxHTTPHeaderLines = 64 // request line included
)

// httpError is a request refused with an HTTP status and a short
// explanation for the person behind the client.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string {
	return fmt.Sprintf("http: %d %s: %s", e.status, http.StatusText(e.status), e.msg)
}

// parseConnectRequest parses the header block at the start of b and returns
// the requested destination and the block's length.
func parseConnectRequest(b []byte) (d dest, n int, err error) {
	lines := 0
	for {
		i := bytes.IndexByte(b[n:], '\n')
		if i < 0 {
			if len(b) >= maxHTTPHeaderBytes {
				return dest{}, 0, &httpError{http.StatusRequestHeaderFieldsTooLarge, fmt.Sprintf("the request header is over %d bytes", maxHTTPHeaderBytes)}
			}
			return dest{}, 0, errIncomplete
		}
		line := string(bytes.TrimSuffix(b[n:n+i], []byte("\r")))
		n += i + 1
		if n > maxHTTPHeaderBytes {
			return dest{}, 0, &httpError{http.StatusRequestHeaderFieldsTooLarge, fmt.Sprintf("the request header is over %d bytes", maxHTTPHeaderBytes)}
		}
		lines++
		if lines > maxHTTPHeaderLines {
			return dest{}, 0, &httpError{http.StatusRequestHeaderFieldsTooLarge, fmt.Sprintf("the request has over %d header lines", maxHTTPHeaderLines-1)}
		}
		if lines == 1 {
			if d, err = parseRequestLine(line); err != nil {
				return dest{}, 0, err
			}
			continue
		}
		if line == "" {
			return d, n, nil
		}
		if line[0] == ' ' || line[0] == '\t' || !strings.Contains(line, ":") {
			return dest{}, 0, &httpError{http.StatusBadRequest, "malformed header line"}
		}
	}
}

// parseRequestLine parses "CONNECT host:port HTTP/1.x".
func parseRequestLine(line string) (dest, error) {
	method, rest, ok1 := strings.Cut(line, " ")
	target, version, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || !strings.HasPrefix(version, "HTTP/1.") || len(version) != len("HTTP/1.1") {
		return dest{}, &httpError{http.StatusBadRequest, "not an HTTP/1 request line"}
	}
	if method != http.MethodConnect {
		return dest{}, &httpError{http.StatusMethodNotAllowed, fmt.Sprintf("this proxy only tunnels: send CONNECT host:port, not %s (use it as an HTTPS proxy, or use the SOCKS5 proxy)", clip(method))}
	}
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return dest{}, &httpError{http.StatusBadRequest, "the CONNECT target must be host:port (IPv6 addresses in brackets)"}
	}
	p, err := parsePort(port)
	if err != nil {
		return dest{}, &httpError{http.StatusBadRequest, "the CONNECT target's port: " + err.Error()}
	}
	if err := checkHost(host, strings.HasPrefix(target, "[")); err != nil {
		return dest{}, &httpError{http.StatusBadRequest, "the CONNECT target: " + err.Error()}
	}
	return destFromHost(host, p), nil
}

// httpStatusFor maps a failure to the status a proxy answers with.
func httpStatusFor(f failure) int {
	switch f {
	case failNotAllowed:
		return http.StatusForbidden
	case failTimeout:
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

// appendHTTPResponse appends a complete response with a plain-text body.
func appendHTTPResponse(b []byte, status int, msg string) []byte {
	b = fmt.Appendf(b, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	if status == http.StatusMethodNotAllowed {
		b = append(b, "Allow: CONNECT\r\n"...)
	}
	body := msg + "\n"
	return fmt.Appendf(b, "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
}
