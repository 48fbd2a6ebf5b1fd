package encap

import (
	"errors"
	"fmt"
	"time"

	"golang.zx2c4.com/wireguard/device"
)

// ErrNoHandshake reports that a probe's handshake did not complete.
var ErrNoHandshake = errors.New("no handshake completed")

// ProbePeer starts a fresh handshake with the peer and returns how long it
// took to complete, or ErrNoHandshake after timeout. It proves the peer's
// WireGuard port is reachable both ways right now. The peer's current
// session keys are retired so the handshake happens at once; traffic waits
// for it (one round trip when the path works).
func (w *WireGuard) ProbePeer(pub [32]byte, timeout time.Duration) (time.Duration, error) {
	before, err := w.lastHandshake(pub)
	if err != nil {
		return 0, err
	}
	p := w.dev.LookupPeer(device.NoisePublicKey(pub))
	if p == nil {
		return 0, fmt.Errorf("wireguard transport: %s is not a peer", peerName(pub))
	}
	start := time.Now()
	p.ExpireCurrentKeypairs()
	p.SendHandshakeInitiation(false)
	for time.Since(start) < timeout {
		time.Sleep(10 * time.Millisecond) // polling the device's handshake time
		last, err := w.lastHandshake(pub)
		if err != nil {
			return 0, err
		}
		if last.After(before) {
			return time.Since(start), nil
		}
	}
	return 0, ErrNoHandshake
}

// lastHandshake is the peer's last completed handshake (zero: never).
func (w *WireGuard) lastHandshake(pub [32]byte) (time.Time, error) {
	st, err := w.ipcState()
	if err != nil {
		return time.Time{}, err
	}
	for _, p := range st.peers {
		if p.pub == pub {
			return p.lastHandshake, nil
		}
	}
	return time.Time{}, fmt.Errorf("wireguard transport: %s is not a peer", peerName(pub))
}

// Roamed reopens the sockets after this host's address changed (a laptop
// on another network), which forgets the source addresses WireGuard had
// cached per peer, and sends every peer with a session a keepalive from
// the new address: WireGuard peers follow an authenticated packet's
// source, so they know where this node went one packet later.
func (w *WireGuard) Roamed() error {
	if err := w.dev.BindUpdate(); err != nil {
		return fmt.Errorf("wireguard transport: reopening the sockets: %w", err)
	}
	w.dev.SendKeepalivesToPeersWithCurrentKeypair()
	return nil
}
