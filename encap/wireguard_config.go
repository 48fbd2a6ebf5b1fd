package encap

import (
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	"golang.org/x/crypto/curve25519"
)

// UAPIKey is a key that can render itself for WireGuard's configuration
// protocol: UAPIHex returns the lowercase hex of its 32 raw bytes. meshnet's
// key types implement it; the transport never prints what it returns.
type UAPIKey interface{ UAPIHex() string }

const (
	// DefaultWireGuardPort is WireGuard's customary UDP port.
	DefaultWireGuardPort = 51820

	// defaultTunnelMTU is the MTU of tunnelled packets when the config
	// leaves it out: a 1500-byte IPv4 underlay minus WireGuard over IPv4
	// (60 bytes). It only steers WireGuard's padding.
	defaultTunnelMTU = 1500 - 60

	// minTunnelMTU is IPv6's minimum link MTU (RFC 8200): a stock peer's
	// kernel refuses an IPv6 interface below it.
	minTunnelMTU = 1280

	// maxTunnelled is the largest tunnelled IPv6 packet: WireGuard adds
	// 32 bytes (header and tag) and up to 15 of padding, and the result
	// must fit one UDP datagram over IPv4 (65507 bytes).
	maxTunnelled = 65507 - 32 - 15

	// WireGuardMaxMTU is the largest MTU a WireGuardConfig accepts.
	WireGuardMaxMTU = maxTunnelled

	// WireGuardMaxPacket is the largest VXLAN packet the wireguard
	// transport sends.
	WireGuardMaxPacket = maxTunnelled - tunnelHeaderLen

	// DefaultWireGuardBatch is WireGuardConfig.Batch's default: 32 holds
	// 4 MiB where 64 held 8, for no measured loss of throughput; 16 cost
	// CPU per GB (docs/PERFORMANCE.md, "Memory").
	DefaultWireGuardBatch = 32
	// MaxWireGuardBatch is the largest batch: the kernel's limit of
	// datagrams per GSO send and GRO message, the UDP bind's own batch.
	MaxWireGuardBatch = maxUDPSegments

	// maxInterfaceName is the longest Linux interface name, which
	// wireguard-tools also applies to userspace devices.
	maxInterfaceName = 15
)

// WireGuardConfig configures the wireguard (encrypted) transport.
type WireGuardConfig struct {
	// Port is the UDP port WireGuard listens on. Zero means
	// DefaultWireGuardPort (51820).
	Port uint16

	// EphemeralPort asks the kernel for any free port instead of Port, for
	// tests and for several nodes on one host; LocalPort reports the
	// choice.
	EphemeralPort bool

	// PrivateKey is this node's Curve25519 static key. Required.
	PrivateKey UAPIKey

	// VTEP is this node's VTEP address, an IPv6 unique local address
	// (fd00::/8) that peers allow for this node: the source of every
	// tunnelled packet. Required.
	VTEP netip.Addr

	// InterfaceName names the configuration socket,
	// /var/run/wireguard/<name>.sock, so that `wg show <name>` and other
	// WireGuard tools see the device. Empty means no socket. At most 15
	// bytes of letters, digits and "_=+.-".
	InterfaceName string

	// MTU is the MTU of the tunnelled IPv6 packets: the underlay MTU minus
	// 60 over IPv4 or 80 over IPv6. WireGuard pads packets up to it (to a
	// multiple of 16 bytes) to hide their exact length. Zero means 1440
	// (a 1500-byte IPv4 underlay); otherwise at least 1280, IPv6's
	// minimum.
	MTU int

	// Logger receives the transport's and WireGuard's messages; nil
	// discards them.
	Logger *slog.Logger

	// DisableOffload turns off UDP segmentation (GSO) on send and generic
	// receive offload (GRO) on receive on the WireGuard socket, for
	// kernels and NICs where they are broken. It also turns off
	// WireGuard's tracking of route changes for its cached source
	// addresses, which only matters on hosts with several addresses.
	DisableOffload bool

	// FullInnerChecksum computes the UDP checksum of tunnelled packets over
	// every byte, instead of deriving the inner TCP or UDP segment's share
	// from its own checksum (local checksum offload, wireguard_lco.go).
	// Both give the same checksum for every packet whose inner checksum is
	// right; the derived one reads only the headers.
	FullInnerChecksum bool

	// MaxReceiveInFlight bounds the data packets WireGuard holds between
	// its socket and delivery (wireguard_gate.go); each costs a 64 KiB
	// buffer, and the socket's buffer holds what waits beyond. Zero means
	// DefaultMaxReceiveInFlight; negative means no bound.
	MaxReceiveInFlight int
	// MaxSendInFlight bounds the data packets WireGuard holds between
	// Send and its socket (wireguard_gate.go), as MaxReceiveInFlight does
	// on the way in; Send waits beyond it. Zero means
	// DefaultMaxSendInFlight; negative means no bound.
	MaxSendInFlight int
	// Batch is the most packets WireGuard reads from its socket, and
	// from the forwarder, at a time, 1 to MaxWireGuardBatch. WireGuard
	// holds a 64 KiB buffer per packet of a batch in each direction for
	// as long as it runs, so this is most of what an idle node keeps.
	// Zero means DefaultWireGuardBatch.
	Batch int

	// IPv4Only listens over IPv4 alone, for a node whose underlay is
	// IPv4: an IPv6 socket's reader would hold a batch of buffers for
	// datagrams that never come (Linux; elsewhere both families).
	IPv4Only bool
}

// wgKey is a parsed 32-byte key. It prints redacted; uapiHex is the one
// way out, into the device's config.
type wgKey [32]byte

// String and GoString keep the key out of anything that formats it.
func (wgKey) String() string   { return "wgKey(redacted)" }
func (wgKey) GoString() string { return "wgKey(redacted)" }

func (k *wgKey) uapiHex() string { return hex.EncodeToString(k[:]) }

// parseUAPIKey reads k's hex form. what names the key in errors, which
// never contain the key.
func parseUAPIKey(k UAPIKey, what string) (wgKey, error) {
	var key wgKey
	if k == nil {
		return key, fmt.Errorf("%s is missing", what)
	}
	s := k.UAPIHex()
	if len(s) != 2*len(key) {
		return key, fmt.Errorf("%s is not a 32-byte key (its hex form has %d characters, want 64)", what, len(s))
	}
	if _, err := hex.Decode(key[:], []byte(s)); err != nil {
		return wgKey{}, fmt.Errorf("%s: its hex form is not hexadecimal", what)
	}
	if key.isZero() {
		return wgKey{}, fmt.Errorf("%s is all zeros", what)
	}
	return key, nil
}

func (k *wgKey) isZero() bool {
	var zero wgKey
	return subtle.ConstantTimeCompare(k[:], zero[:]) == 1
}

// public derives the Curve25519 public key of a private key.
func (k *wgKey) public() ([32]byte, error) {
	var pub [32]byte
	p, err := curve25519.X25519(k[:], curve25519.Basepoint)
	if err != nil {
		return pub, errors.New("private key gives a low-order public key; generate a new one")
	}
	copy(pub[:], p)
	return pub, nil
}

// checkVTEP reports why a is not usable as a VTEP address.
func checkVTEP(a netip.Addr) error {
	if !a.Is6() || a.Is4In6() || a.Zone() != "" || a.As16()[0] != 0xfd {
		return fmt.Errorf("%s is not an IPv6 unique local address (fd00::/8) without a zone", a)
	}
	return nil
}

// checkInterfaceName reports why name cannot name a WireGuard socket.
func checkInterfaceName(name string) error {
	if len(name) > maxInterfaceName {
		return fmt.Errorf("interface name %q is %d bytes long, at most %d allowed", name, len(name), maxInterfaceName)
	}
	if name == "." || name == ".." {
		return fmt.Errorf("interface name %q is not a usable file name", name)
	}
	for _, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_=+.-", c)
		if !ok {
			return fmt.Errorf("interface name %q has %q; use letters, digits and _=+.- only", name, c)
		}
	}
	return nil
}

// wgSettings is a validated WireGuardConfig.
type wgSettings struct {
	port  uint16
	key   wgKey
	pub   [32]byte
	vtep  netip.Addr
	name  string
	mtu   int
	log   *slog.Logger
	noGSO bool
	// fullSum: no local checksum offload.
	fullSum bool
	// rxInFlight and txInFlight bound data packets in flight, received
	// and sent; 0: no bound.
	rxInFlight, txInFlight int
	batch                  int
	ipv4Only               bool
}

func (cfg WireGuardConfig) validate() (wgSettings, error) {
	s := wgSettings{port: cfg.Port, vtep: cfg.VTEP, name: cfg.InterfaceName, mtu: cfg.MTU, log: cfg.Logger, noGSO: cfg.DisableOffload, fullSum: cfg.FullInnerChecksum, ipv4Only: cfg.IPv4Only}
	switch {
	case cfg.MaxReceiveInFlight == 0:
		s.rxInFlight = DefaultMaxReceiveInFlight
	case cfg.MaxReceiveInFlight > 0:
		s.rxInFlight = cfg.MaxReceiveInFlight
	}
	switch {
	case cfg.MaxSendInFlight == 0:
		s.txInFlight = DefaultMaxSendInFlight
	case cfg.MaxSendInFlight > 0:
		s.txInFlight = cfg.MaxSendInFlight
	}
	switch {
	case cfg.Batch == 0:
		s.batch = DefaultWireGuardBatch
	case cfg.Batch > 0 && cfg.Batch <= MaxWireGuardBatch:
		s.batch = cfg.Batch
	default:
		return s, fmt.Errorf("batch %d is out of range: use 1-%d, or 0 for the default (%d)", cfg.Batch, MaxWireGuardBatch, DefaultWireGuardBatch)
	}
	if s.port == 0 {
		s.port = DefaultWireGuardPort
	}
	if cfg.EphemeralPort {
		s.port = 0
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if s.key, err = parseUAPIKey(cfg.PrivateKey, "PrivateKey"); err != nil {
		return s, err
	}
	if s.pub, err = s.key.public(); err != nil {
		return s, fmt.Errorf("PrivateKey: %w", err)
	}
	if err := checkVTEP(cfg.VTEP); err != nil {
		return s, fmt.Errorf("VTEP: %w", err)
	}
	if s.name != "" {
		if err := checkInterfaceName(s.name); err != nil {
			return s, fmt.Errorf("InterfaceName: %w", err)
		}
	}
	switch {
	case s.mtu == 0:
		s.mtu = defaultTunnelMTU
	case s.mtu < minTunnelMTU || s.mtu > maxTunnelled:
		return s, fmt.Errorf("MTU %d is outside %d..%d: tunnelled packets are IPv6, which needs at least %d (an underlay MTU of %d over IPv4, %d over IPv6)",
			s.mtu, minTunnelMTU, maxTunnelled, minTunnelMTU, minTunnelMTU+60, minTunnelMTU+80)
	}
	return s, nil
}
