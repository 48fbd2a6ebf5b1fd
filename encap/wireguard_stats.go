package encap

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// WGPeerStats is one peer's state as WireGuard reports it.
type WGPeerStats struct {
	// PublicKey is the peer's public key.
	PublicKey [32]byte
	// Endpoint is where WireGuard currently sends to the peer: the
	// configured endpoint, or where the peer last sent from. Zero if
	// unknown.
	Endpoint netip.AddrPort
	// VTEP is the peer's allowed /128, invalid if it has none.
	VTEP netip.Addr
	// LastHandshake is when the current session was made; zero if there
	// never was one.
	LastHandshake time.Time
	// RxBytes and TxBytes count WireGuard's UDP payload bytes from and to
	// the peer, handshakes and keepalives included.
	RxBytes, TxBytes uint64
	// Keepalive is the persistent keepalive interval; zero when off.
	Keepalive time.Duration
}

// PeerStats reports every peer of the device, ordered by public key. With
// a configuration socket it asks the socket (through wgctrl, as WireGuard
// tools do), otherwise the device directly.
func (w *WireGuard) PeerStats() ([]WGPeerStats, error) {
	if w.closed.Load() {
		return nil, ErrClosed
	}
	var out []WGPeerStats
	var err error
	if w.name != "" {
		out, err = w.peerStatsFromSocket()
	} else {
		out, err = w.peerStatsFromDevice()
	}
	if err != nil {
		return nil, fmt.Errorf("wireguard transport: peer statistics: %w", err)
	}
	slices.SortFunc(out, func(a, b WGPeerStats) int { return bytes.Compare(a.PublicKey[:], b.PublicKey[:]) })
	return out, nil
}

func (w *WireGuard) peerStatsFromDevice() ([]WGPeerStats, error) {
	d, err := w.ipcState()
	if err != nil {
		return nil, err
	}
	out := make([]WGPeerStats, 0, len(d.peers))
	for _, p := range d.peers {
		out = append(out, WGPeerStats{
			PublicKey:     p.pub,
			Endpoint:      p.endpoint,
			VTEP:          vtepOf(p.allowed),
			LastHandshake: p.lastHandshake,
			RxBytes:       p.rxBytes,
			TxBytes:       p.txBytes,
			Keepalive:     p.keepalive,
		})
	}
	return out, nil
}

func (w *WireGuard) peerStatsFromSocket() ([]WGPeerStats, error) {
	c, err := wgctrl.New()
	if err != nil {
		return nil, fmt.Errorf("opening a WireGuard control client: %w", err)
	}
	defer c.Close()
	d, err := c.Device(w.name)
	if err != nil {
		return nil, fmt.Errorf("asking the configuration socket of %q: %w", w.name, err)
	}
	out := make([]WGPeerStats, 0, len(d.Peers))
	for _, p := range d.Peers {
		out = append(out, statsFromWgtypes(p))
	}
	return out, nil
}

// statsFromWgtypes converts wgctrl's view of a peer (leaving its preshared
// key behind).
func statsFromWgtypes(p wgtypes.Peer) WGPeerStats {
	s := WGPeerStats{
		PublicKey:     p.PublicKey,
		LastHandshake: p.LastHandshakeTime,
		RxBytes:       uint64(max(p.ReceiveBytes, 0)),
		TxBytes:       uint64(max(p.TransmitBytes, 0)),
		Keepalive:     p.PersistentKeepaliveInterval,
	}
	if p.Endpoint != nil {
		ap := p.Endpoint.AddrPort()
		s.Endpoint = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	var allowed []netip.Prefix
	for _, n := range p.AllowedIPs {
		if pfx, ok := prefixOf(n); ok {
			allowed = append(allowed, pfx)
		}
	}
	s.VTEP = vtepOf(allowed)
	if s.LastHandshake.Unix() == 0 {
		s.LastHandshake = time.Time{}
	}
	return s
}

func prefixOf(n net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP)
	ones, bits := n.Mask.Size()
	if !ok || bits == 0 {
		return netip.Prefix{}, false
	}
	if bits == 32 {
		a = a.Unmap()
	}
	return netip.PrefixFrom(a, ones), true
}

// vtepOf picks the VTEP among a peer's allowed IPs: its first IPv6 /128.
func vtepOf(allowed []netip.Prefix) netip.Addr {
	for _, p := range allowed {
		if p.Bits() == 128 && p.Addr().Is6() {
			return p.Addr()
		}
	}
	return netip.Addr{}
}
