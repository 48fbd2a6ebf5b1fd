package userspace

// SOCKS5 wire format (RFC 1928), parsed from and encoded into byte slices so
// the parsers can be fuzzed apart from any connection.
//
// Greeting (client):          Method selection (server):
//	+-----+----------+----------+   +-----+--------+
//	| VER | NMETHODS | METHODS  |   | VER | METHOD |
//	|  1  |    1     | 1 to 255 |   |  1  |   1    |
//	+-----+----------+----------+   +-----+--------+
//
// Request (client) and reply (server):
//	+-----+---------+-------+------+----------+----------+
//	| VER | CMD/REP |  RSV  | ATYP |   ADDR   |   PORT   |
//	|  1  |    1    | X'00' |  1   | Variable |    2     |
//	+-----+---------+-------+------+----------+----------+
// ATYP 1: 4-byte IPv4; 3: 1-byte length and a name; 4: 16-byte IPv6.

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

const (
	socksVersion      = 5
	socksMethodNoAuth = 0x00
	socksNoMethod     = 0xff
	socksCmdConnect   = 1
	socksAtypIPv4     = 1
	socksAtypName     = 3
	socksAtypIPv6     = 4
)

// SOCKS5 reply codes.
const (
	socksSucceeded      = 0x00
	socksGeneralFailure = 0x01
	socksNotAllowed     = 0x02 // connection not allowed by ruleset
	socksHostUnreach    = 0x04 // also for timeouts: clients explain it better than 0x06
	socksRefused        = 0x05
	socksCmdUnsupported = 0x07
	socksAtypUnsupport  = 0x08
)

// Limits: the largest greeting and request the protocol allows, which
// bound what a handshake reads.
const (
	maxSOCKSGreeting = 2 + 255
	maxSOCKSRequest  = 4 + 1 + 255 + 2
)

// errIncomplete means the parser needs more bytes.
var errIncomplete = errors.New("incomplete message")

// socksError is a request the server refuses with reply code rep; rep 0
// means the peer does not speak SOCKS5 and gets no reply.
type socksError struct {
	rep byte
	msg string
}

func (e *socksError) Error() string { return "socks5: " + e.msg }

// socksRequest is a parsed request.
type socksRequest struct {
	cmd  byte
	dest dest
}

// parseSOCKSGreeting parses a greeting at the start of b. It returns its
// length and whether the client offers "no authentication".
func parseSOCKSGreeting(b []byte) (n int, noAuth bool, err error) {
	if len(b) < 2 {
		return 0, false, errIncomplete
	}
	if b[0] != socksVersion {
		return 0, false, &socksError{msg: "the client does not speak SOCKS version 5"}
	}
	n = 2 + int(b[1])
	if len(b) < n {
		return 0, false, errIncomplete
	}
	for _, m := range b[2:n] {
		if m == socksMethodNoAuth {
			return n, true, nil
		}
	}
	return n, false, nil
}

// parseSOCKSRequest parses a request at the start of b and returns its
// length. Unsupported commands are parsed in full and reported by cmd.
func parseSOCKSRequest(b []byte) (req socksRequest, n int, err error) {
	if len(b) < 4 {
		return req, 0, errIncomplete
	}
	if b[0] != socksVersion {
		return req, 0, &socksError{msg: "the request is not SOCKS version 5"}
	}
	req.cmd = b[1]
	switch b[3] {
	case socksAtypIPv4:
		n = 4 + 4 + 2
		if len(b) < n {
			return req, 0, errIncomplete
		}
		req.dest.addr = netip.AddrFrom4([4]byte(b[4:8]))
	case socksAtypIPv6:
		n = 4 + 16 + 2
		if len(b) < n {
			return req, 0, errIncomplete
		}
		req.dest.addr = netip.AddrFrom16([16]byte(b[4:20]))
	case socksAtypName:
		if len(b) < 5 {
			return req, 0, errIncomplete
		}
		n = 5 + int(b[4]) + 2
		if len(b) < n {
			return req, 0, errIncomplete
		}
		if b[4] == 0 {
			return req, 0, &socksError{rep: socksHostUnreach, msg: "the request names an empty host"}
		}
		req.dest = destFromHost(string(b[5:n-2]), 0)
	default:
		return req, 0, &socksError{rep: socksAtypUnsupport, msg: "unknown address type"}
	}
	req.dest.port = binary.BigEndian.Uint16(b[n-2 : n])
	return req, n, nil
}

// appendSOCKSReply appends a reply with code rep and bound address bind
// (0.0.0.0:0 when invalid).
func appendSOCKSReply(b []byte, rep byte, bind netip.AddrPort) []byte {
	a := bind.Addr().Unmap()
	switch {
	case a.Is4():
		b = append(b, socksVersion, rep, 0, socksAtypIPv4)
		b = append(b, a.AsSlice()...)
	case a.Is6():
		b = append(b, socksVersion, rep, 0, socksAtypIPv6)
		b = append(b, a.AsSlice()...)
	default:
		b = append(b, socksVersion, rep, 0, socksAtypIPv4, 0, 0, 0, 0)
	}
	return binary.BigEndian.AppendUint16(b, bind.Port())
}

// socksReplyFor maps a failure to its reply code.
func socksReplyFor(f failure) byte {
	switch f {
	case reached:
		return socksSucceeded
	case failNotAllowed:
		return socksNotAllowed
	case failUnknownHost, failUnreachable, failTimeout:
		return socksHostUnreach
	case failRefused:
		return socksRefused
	}
	return socksGeneralFailure
}
