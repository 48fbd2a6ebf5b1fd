package userspace

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"
)

// Defaults; Config documents why.
const (
	DefaultMaxConns         = 1024
	DefaultMaxUDPSessions   = 256
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultDialTimeout      = 10 * time.Second
	DefaultResolveTimeout   = 2 * time.Second
	DefaultUDPIdleTimeout   = 60 * time.Second
)

// Config says what a Server offers. It is read once, by New.
type Config struct {
	// SOCKS5 is the host address the SOCKS5 proxy listens on, normally
	// 127.0.0.1:1080. The zero value turns the proxy off; port 0 picks a
	// free port (Server.Bound reports it). Anyone who can connect reaches
	// the overlay, so keep it on loopback.
	SOCKS5 netip.AddrPort
	// HTTPConnect is the host address of the HTTP CONNECT proxy, as SOCKS5.
	HTTPConnect netip.AddrPort
	// Loopback is the host address forwards listen on and exposes connect
	// to. Default 127.0.0.1.
	Loopback netip.Addr
	// Forwards relay loopback ports into the overlay.
	Forwards []Forward
	// Exposes relay overlay ports to loopback ports.
	Exposes []Expose
	// OverlayAddrs are the node's own overlay addresses; every expose
	// listens on each. Required when Exposes is not empty.
	OverlayAddrs []netip.Addr
	// MaxConns bounds the TCP connections relayed at once, over all
	// proxies, forwards and exposes; more are turned away at once. Default
	// 1024: each costs two goroutines and 64 KiB of buffers, so the default
	// bounds memory near 64 MiB and stays under common fd limits.
	MaxConns int
	// MaxUDPSessions bounds the clients one UDP forward or expose relays at
	// once; datagrams from further clients are dropped. Default 256 (each
	// session holds a 64 KiB datagram buffer).
	MaxUDPSessions int
	// HandshakeTimeout bounds a proxy client's greeting and request.
	// Default 10s: generous for a person typing, short for a stalled peer.
	HandshakeTimeout time.Duration
	// DialTimeout bounds connecting to an overlay destination. Default 10s:
	// several SYN retransmissions, so one lost packet does not fail it.
	DialTimeout time.Duration
	// ResolveTimeout bounds one name lookup. Default 2s: overlay names are
	// answered locally, so anything slower is a failure to report quickly.
	ResolveTimeout time.Duration
	// UDPIdleTimeout ends a UDP session that carried nothing in either
	// direction for this long. Default 60s, like common NAT mappings.
	UDPIdleTimeout time.Duration
}

// DefaultConfig returns a config with nothing enabled and the defaults
// above.
func DefaultConfig() Config {
	return Config{
		Loopback:         netip.AddrFrom4([4]byte{127, 0, 0, 1}),
		MaxConns:         DefaultMaxConns,
		MaxUDPSessions:   DefaultMaxUDPSessions,
		HandshakeTimeout: DefaultHandshakeTimeout,
		DialTimeout:      DefaultDialTimeout,
		ResolveTimeout:   DefaultResolveTimeout,
		UDPIdleTimeout:   DefaultUDPIdleTimeout,
	}
}

// Deps are what a Server works through.
type Deps struct {
	// Dialer reaches the overlay. Required.
	Dialer Dialer
	// Listener listens on the overlay. Required when there are exposes.
	Listener Listener
	// Resolver resolves overlay names. Nil means no names are known: only
	// IP addresses can be reached.
	Resolver Resolver
	// Policy admits destinations. Required; normally the overlay's Subnets.
	Policy Policy
	// HostDialer reaches the host's loopback for exposes. Nil means the
	// operating system's.
	HostDialer Dialer
	// Logger receives the Server's logs. Nil discards them.
	Logger *slog.Logger
}

func (c *Config) validate(d Deps) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("userspace: "+format, args...)) }
	if !c.Loopback.IsValid() {
		bad("loopback address is not set; use 127.0.0.1")
	}
	if c.MaxConns <= 0 || c.MaxUDPSessions <= 0 {
		bad("max_conns (%d) and max_udp_sessions (%d) must be positive", c.MaxConns, c.MaxUDPSessions)
	}
	for name, t := range map[string]time.Duration{"handshake_timeout": c.HandshakeTimeout, "dial_timeout": c.DialTimeout, "resolve_timeout": c.ResolveTimeout, "udp_idle_timeout": c.UDPIdleTimeout} {
		if t <= 0 {
			bad("%s %v must be positive", name, t)
		}
	}
	for i, f := range c.Forwards {
		if f.Network != "tcp" && f.Network != "udp" {
			bad("forwards[%d] %q: network must be tcp or udp", i, f)
		}
		if f.Port == 0 {
			bad("forwards[%d] %q: destination port must be from 1 to 65535", i, f)
		}
		a, err := netip.ParseAddr(f.Host)
		if err == nil && a.Zone() != "" {
			err = fmt.Errorf("address %q has a zone; overlay addresses have none", f.Host)
		} else if err != nil {
			err = checkName(f.Host)
		}
		if err != nil {
			bad("forwards[%d] %q: %v", i, f, err)
		}
	}
	for i, e := range c.Exposes {
		if e.Network != "tcp" && e.Network != "udp" {
			bad("exposes[%d] %q: network must be tcp or udp", i, e)
		}
		if e.OverlayPort == 0 || e.LocalPort == 0 {
			bad("exposes[%d] %q: ports must be from 1 to 65535", i, e)
		}
	}
	if len(c.Exposes) > 0 && (len(c.OverlayAddrs) == 0 || d.Listener == nil) {
		bad("exposes need the node's overlay addresses and an overlay Listener")
	}
	if d.Dialer == nil || d.Policy == nil {
		bad("a Dialer into the overlay and a Policy are required")
	}
	return errors.Join(errs...)
}

// hostDialer returns the dialer for the host's loopback.
func (d Deps) hostDialer() Dialer {
	if d.HostDialer != nil {
		return d.HostDialer
	}
	return &net.Dialer{}
}
