package userspace

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Syntax of the --forward and --expose specs, quoted in every parse error.
const (
	ForwardSyntax = "tcp:LOCALPORT:NAME_OR_IP:PORT or udp:LOCALPORT:NAME_OR_IP:PORT (IPv6 addresses in brackets)"
	ExposeSyntax  = "tcp:PORT, tcp:OVERLAYPORT:LOCALPORT, udp:PORT or udp:OVERLAYPORT:LOCALPORT"
)

// Limits on specs, which come from flags and config files.
const (
	maxSpecLen  = 300 // longest spec: a 253-byte name with ports and brackets fits
	maxNameLen  = 253 // RFC 1035 name, without the trailing dot
	maxLabelLen = 63
)

// Forward relays a port on the host's loopback to one overlay destination.
type Forward struct {
	// Network is "tcp" or "udp".
	Network string
	// LocalPort is the loopback port to listen on. 0 lets the system pick
	// one (Server.Bound reports it); specs always name a port.
	LocalPort uint16
	// Host is an overlay name, resolved for each connection (each UDP
	// session), or an IP address (IPv6 without brackets).
	Host string
	// Port is the destination port.
	Port uint16
}

// String returns f in spec syntax.
func (f Forward) String() string {
	return fmt.Sprintf("%s:%d:%s", f.Network, f.LocalPort, net.JoinHostPort(f.Host, strconv.Itoa(int(f.Port))))
}

// Expose relays a port on the node's overlay addresses to a port on the
// host's loopback.
type Expose struct {
	// Network is "tcp" or "udp".
	Network string
	// OverlayPort is the port to listen on, on every overlay address.
	OverlayPort uint16
	// LocalPort is the loopback port connections are relayed to.
	LocalPort uint16
}

// String returns e in spec syntax.
func (e Expose) String() string {
	if e.OverlayPort == e.LocalPort {
		return fmt.Sprintf("%s:%d", e.Network, e.OverlayPort)
	}
	return fmt.Sprintf("%s:%d:%d", e.Network, e.OverlayPort, e.LocalPort)
}

// ParseForward parses tcp:LOCALPORT:NAME_OR_IP:PORT (or udp:...).
func ParseForward(spec string) (Forward, error) {
	bad := func(problem string) (Forward, error) {
		return Forward{}, fmt.Errorf("userspace: forward %q: %s; want %s", clip(spec), problem, ForwardSyntax)
	}
	if len(spec) > maxSpecLen {
		return bad(fmt.Sprintf("longer than %d bytes", maxSpecLen))
	}
	network, rest, ok := strings.Cut(spec, ":")
	if !ok || (network != "tcp" && network != "udp") {
		return bad("it must start with tcp: or udp:")
	}
	local, hostport, ok := strings.Cut(rest, ":")
	if !ok {
		return bad("the destination is missing")
	}
	lport, err := parsePort(local)
	if err != nil {
		return bad("local port: " + err.Error())
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		if strings.Count(hostport, ":") > 1 && !strings.HasPrefix(hostport, "[") {
			return bad("an IPv6 destination goes in brackets, e.g. [fd00::5]:80")
		}
		return bad("the destination must be NAME_OR_IP:PORT")
	}
	dport, err := parsePort(port)
	if err != nil {
		return bad("destination port: " + err.Error())
	}
	if err := checkHost(host, strings.HasPrefix(hostport, "[")); err != nil {
		return bad(err.Error())
	}
	return Forward{Network: network, LocalPort: lport, Host: host, Port: dport}, nil
}

// ParseExpose parses tcp:PORT or tcp:OVERLAYPORT:LOCALPORT (or udp:...).
func ParseExpose(spec string) (Expose, error) {
	bad := func(problem string) (Expose, error) {
		return Expose{}, fmt.Errorf("userspace: expose %q: %s; want %s", clip(spec), problem, ExposeSyntax)
	}
	if len(spec) > maxSpecLen {
		return bad(fmt.Sprintf("longer than %d bytes", maxSpecLen))
	}
	f := strings.Split(spec, ":")
	if f[0] != "tcp" && f[0] != "udp" {
		return bad("it must start with tcp: or udp:")
	}
	if len(f) < 2 || len(f) > 3 {
		return bad("it takes one or two ports")
	}
	over, err := parsePort(f[1])
	if err != nil {
		return bad("port: " + err.Error())
	}
	local := over
	if len(f) == 3 {
		if local, err = parsePort(f[2]); err != nil {
			return bad("local port: " + err.Error())
		}
	}
	return Expose{Network: f[0], OverlayPort: over, LocalPort: local}, nil
}

// parsePort parses a decimal port from 1 to 65535.
func parsePort(s string) (uint16, error) {
	if s == "" {
		return 0, fmt.Errorf("empty")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a number", clip(s))
		}
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a port from 1 to 65535", clip(s))
	}
	return uint16(n), nil
}

// checkHost accepts an IP address without zone (IPv6 only if bracketed) or
// a DNS name.
func checkHost(host string, bracketed bool) error {
	if a, err := netip.ParseAddr(host); err == nil {
		switch {
		case a.Zone() != "":
			return fmt.Errorf("address %q has a zone; overlay addresses have none", host)
		case a.Is6() != bracketed:
			return fmt.Errorf("only IPv6 addresses go in brackets")
		}
		return nil
	}
	if bracketed {
		return fmt.Errorf("%q in brackets is not an IPv6 address", clip(host))
	}
	return checkName(host)
}

// checkName accepts a DNS name of letters, digits, '-' and '_' labels, with
// an optional trailing dot, that does not look like an IP address.
func checkName(name string) error {
	n := strings.TrimSuffix(name, ".")
	if n == "" || len(n) > maxNameLen {
		return fmt.Errorf("%q is neither an IP address nor a host name", clip(name))
	}
	allDigits := true
	for label := range strings.SplitSeq(n, ".") {
		if label == "" || len(label) > maxLabelLen || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("%q is neither an IP address nor a host name", clip(name))
		}
		for _, c := range []byte(label) {
			switch {
			case c >= '0' && c <= '9':
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-', c == '_':
				allDigits = false
			default:
				return fmt.Errorf("%q is neither an IP address nor a host name", clip(name))
			}
		}
	}
	if allDigits {
		return fmt.Errorf("%q is not a valid IP address", clip(name))
	}
	return nil
}

// clip shortens untrusted text quoted in an error.
func clip(s string) string {
	const max = 80
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
