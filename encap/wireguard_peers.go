package encap

// Peer configuration of the wireguard transport, through the device's own
// configuration API (IpcSet). Changes are incremental: a peer that did not
// change gets no configuration line at all, so its session, counters and
// timers are untouched. The whole set is never replaced.

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"golang.zx2c4.com/wireguard/device"
)

const (
	// maxWGPeers bounds SetPeers: peers come from gossip, and wireguard-go
	// refuses more anyway.
	maxWGPeers = device.MaxPeers

	// maxKeepalive is the longest persistent keepalive WireGuard's
	// configuration protocol can express (a 16-bit number of seconds).
	maxKeepalive = 65535 * time.Second
)

// WGPeer is one peer of the wireguard transport.
type WGPeer struct {
	// PublicKey is the peer's raw Curve25519 public key.
	PublicKey [32]byte
	// PSK is the pair's preshared key; nil means none. A changed PSK is
	// used from the next handshake on (WireGuard re-keys every two
	// minutes); the current session is not interrupted.
	PSK UAPIKey
	// Endpoint is the peer's WireGuard UDP address on the underlay. The
	// zero value means unknown: the peer can still reach this node, and
	// WireGuard then answers where it came from. WireGuard also follows a
	// peer that roams; SetPeers sets the endpoint only when it changes
	// here.
	Endpoint netip.AddrPort
	// VTEP is the peer's VTEP address, its only allowed IP (/128): the
	// only source address accepted from it and the destination that
	// routes packets to it.
	VTEP netip.Addr
	// Keepalive is the persistent keepalive interval, rounded up to whole
	// seconds; zero turns it off.
	Keepalive time.Duration
	// Generation identifies one run of the peer (it changes when the
	// peer restarts); zero means unknown. A new generation starts the pair
	// afresh: WireGuard refuses handshakes whose timestamp is older than
	// the newest it saw from a peer, so a peer that restarted with its
	// clock set back could not handshake with this node again otherwise.
	Generation uint64
}

// wgPeerRecord is what SetPeers configured for a peer.
type wgPeerRecord struct {
	psk       string // hex; "" for none
	endpoint  netip.AddrPort
	vtep      netip.Addr
	keepalive time.Duration
	gen       uint64
}

// SetPeers makes the device's peers exactly peers: it adds new ones,
// updates changed ones (PSK, endpoint, VTEP, keepalive) and removes the
// rest, incrementally, leaving unchanged peers' sessions alone. Which
// peers exist, their allowed IPs and keepalives are compared with the
// device itself (so a peer added by hand through the configuration socket
// is removed unless listed); endpoints and PSKs with what SetPeers set
// last, so that WireGuard following a roaming peer is not undone. On error
// nothing was changed, except when the device itself refuses the change
// (the error says so).
func (w *WireGuard) SetPeers(peers []WGPeer) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed.Load() {
		return ErrClosed
	}
	want, err := w.checkPeersLocked(peers)
	if err != nil {
		return fmt.Errorf("wireguard transport: SetPeers: %w", err)
	}
	state, err := w.ipcState()
	if err != nil {
		return fmt.Errorf("wireguard transport: SetPeers: %w", err)
	}
	var b strings.Builder
	have := make(map[[32]byte]*ipcPeer, len(state.peers))
	for i := range state.peers {
		p := &state.peers[i]
		have[p.pub] = p
		if _, ok := want[p.pub]; !ok {
			fmt.Fprintf(&b, "public_key=%x\nremove=true\n", p.pub)
		}
	}
	var kick [][32]byte
	for _, pub := range slices.SortedFunc(maps.Keys(want), func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) }) {
		old, recorded := w.peers[pub]
		dev := have[pub]
		if dev != nil && recorded && old.gen != 0 && want[pub].gen != old.gen {
			// The peer restarted: drop its session and replay state.
			fmt.Fprintf(&b, "public_key=%x\nremove=true\n", pub)
			dev, recorded = nil, false
		}
		writePeerConfig(&b, pub, want[pub], dev, old, recorded)
		if pskChanged := !recorded || old.psk != want[pub].psk; pskChanged && want[pub].psk != "" &&
			(dev == nil || dev.lastHandshake.IsZero()) {
			kick = append(kick, pub)
		}
	}
	if b.Len() > 0 {
		if err := w.dev.IpcSet(b.String()); err != nil {
			// The device applies lines in order: some may have taken
			// effect. Forget the record so the next call rewrites all.
			clear(w.peers)
			return fmt.Errorf("wireguard transport: SetPeers: the device refused the configuration, which may now be partly applied: %w", err)
		}
	}
	w.peers = want
	w.publishVTEPsLocked()
	// A peer without a session whose PSK just changed gets a handshake
	// shortly after, unless one completed meanwhile. The peer's first
	// initiation may have reached this node before it knew the peer (the
	// two ends configure each other moments apart) and been dropped; left
	// alone, WireGuard would retry only after its five-second rekey
	// timeout. Two ends that configure each other at the same moment must
	// not both initiate: crossing initiations overwrite each other's
	// handshake state, both responses are refused, and both wait for the
	// retry. So the end with the smaller public key kicks first and the
	// other only if no handshake has completed a while later.
	for _, pub := range kick {
		w.scheduleKickLocked(pub)
	}
	return nil
}

// kickDelay is how long after configuring a peer without a session the
// end with the smaller public key waits for a handshake before starting
// one itself: a few round trips on any LAN, short enough that a new member
// is reachable at once. The other end waits kickFallback, long enough for
// the first end's handshake to finish, and kicks only if it has not (the
// first end configured this one long before, and its kick was dropped).
const (
	kickDelay    = 100 * time.Millisecond
	kickFallback = time.Second
)

// scheduleKickLocked arranges a handshake with pub if none has completed
// by its turn. Must hold w.mu.
func (w *WireGuard) scheduleKickLocked(pub [32]byte) {
	if w.kicks == nil {
		w.kicks = map[[32]byte]*time.Timer{}
	}
	if t := w.kicks[pub]; t != nil {
		t.Stop()
	}
	delay := kickDelay
	if bytes.Compare(w.pub[:], pub[:]) > 0 {
		delay = kickFallback
	}
	w.kicks[pub] = time.AfterFunc(delay, func() { w.kick(pub) })
}

// kick starts a handshake with pub unless it has a session already.
func (w *WireGuard) kick(pub [32]byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.kicks, pub)
	if w.closed.Load() {
		return
	}
	state, err := w.ipcState()
	if err != nil {
		return
	}
	for _, p := range state.peers {
		if p.pub == pub && p.lastHandshake.IsZero() {
			if peer := w.dev.LookupPeer(device.NoisePublicKey(pub)); peer != nil {
				peer.SendHandshakeInitiation(false)
			}
		}
	}
}

// stopKicksLocked cancels pending handshake kicks (on Close). Must hold
// w.mu.
func (w *WireGuard) stopKicksLocked() {
	for pub, t := range w.kicks {
		t.Stop()
		delete(w.kicks, pub)
	}
}

// writePeerConfig appends the configuration lines that turn the device's
// peer dev (nil if absent), last configured as old, into want. Nothing is
// written for a peer that needs no change.
func writePeerConfig(b *strings.Builder, pub [32]byte, want wgPeerRecord, dev *ipcPeer, old wgPeerRecord, recorded bool) {
	var lines []string
	fresh := dev == nil
	if fresh {
		dev = &ipcPeer{}
	}
	var setPSK bool
	switch {
	case fresh:
		setPSK = want.psk != ""
	case recorded:
		setPSK = want.psk != old.psk
	default: // present but not configured by SetPeers: its PSK is unknown
		setPSK = true
	}
	if setPSK {
		psk := want.psk
		if psk == "" {
			psk = strings.Repeat("0", 64)
		}
		lines = append(lines, "preshared_key="+psk)
	}
	if want.endpoint.IsValid() && (fresh || !recorded || want.endpoint != old.endpoint) {
		lines = append(lines, "endpoint="+want.endpoint.String())
	}
	if want.keepalive != dev.keepalive {
		lines = append(lines, fmt.Sprintf("persistent_keepalive_interval=%d", want.keepalive/time.Second))
	}
	// Add the new allowed IP before removing old ones, so the peer is
	// never without one.
	vtep := netip.PrefixFrom(want.vtep, 128)
	if !slices.Contains(dev.allowed, vtep) {
		lines = append(lines, "allowed_ip="+vtep.String())
	}
	for _, a := range dev.allowed {
		if a != vtep {
			lines = append(lines, "allowed_ip=-"+a.String())
		}
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(b, "public_key=%x\n", pub)
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
}

// checkPeersLocked validates peers and returns them as records. w.mu must
// be held (it reads the own key and VTEP).
func (w *WireGuard) checkPeersLocked(peers []WGPeer) (map[[32]byte]wgPeerRecord, error) {
	if len(peers) > maxWGPeers {
		return nil, fmt.Errorf("%d peers, at most %d supported", len(peers), maxWGPeers)
	}
	own := *w.vtep.Load()
	want := make(map[[32]byte]wgPeerRecord, len(peers))
	vteps := make(map[netip.Addr]int, len(peers))
	for i, p := range peers {
		r, err := w.checkPeerLocked(p, own)
		if err == nil {
			if _, dup := want[p.PublicKey]; dup {
				err = errors.New("public key listed twice")
			} else if j, dup := vteps[r.vtep]; dup {
				err = fmt.Errorf("VTEP %s is also peers[%d]'s", r.vtep, j)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("peers[%d] (%s): %w", i, peerName(p.PublicKey), err)
		}
		want[p.PublicKey] = r
		vteps[r.vtep] = i
	}
	return want, nil
}

func (w *WireGuard) checkPeerLocked(p WGPeer, ownVTEP netip.Addr) (wgPeerRecord, error) {
	r := wgPeerRecord{endpoint: p.Endpoint, vtep: p.VTEP, gen: p.Generation}
	if p.PublicKey == ([32]byte{}) {
		return r, errors.New("public key is all zeros")
	}
	if p.PublicKey == w.pub {
		return r, errors.New("public key is this node's own")
	}
	if p.PSK != nil {
		k, err := parseUAPIKey(p.PSK, "PSK")
		if err != nil {
			return r, err
		}
		r.psk = k.uapiHex()
	}
	if ep := p.Endpoint; ep.IsValid() || ep.Port() != 0 {
		if !ep.Addr().IsValid() || ep.Port() == 0 || ep.Addr().IsUnspecified() {
			return r, fmt.Errorf("endpoint %s: need an IP address and a non-zero port, or the zero value for none", ep)
		}
		r.endpoint = netip.AddrPortFrom(ep.Addr().Unmap(), ep.Port())
	}
	if err := checkVTEP(p.VTEP); err != nil {
		return r, fmt.Errorf("VTEP: %w", err)
	}
	if p.VTEP == ownVTEP {
		return r, fmt.Errorf("VTEP %s is this node's own", p.VTEP)
	}
	if p.Keepalive < 0 || p.Keepalive > maxKeepalive {
		return r, fmt.Errorf("keepalive %v is outside 0..%v", p.Keepalive, maxKeepalive)
	}
	r.keepalive = (p.Keepalive + time.Second - 1).Truncate(time.Second)
	return r, nil
}

// publishVTEPsLocked makes Send see the current peers' VTEPs.
func (w *WireGuard) publishVTEPsLocked() {
	m := make(map[netip.Addr]struct{}, len(w.peers))
	for _, r := range w.peers {
		m[r.vtep] = struct{}{}
	}
	w.vteps.Store(&m)
}

// RemovePeer removes the peer with public key pub at once: its sessions
// and keys are wiped, packets queued for it discarded, and once RemovePeer
// returns nothing more from it reaches the Receiver. Removing an unknown
// peer is not an error.
func (w *WireGuard) RemovePeer(pub [32]byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed.Load() {
		return ErrClosed
	}
	// Send stops routing to it before the device forgets it.
	delete(w.peers, pub)
	w.publishVTEPsLocked()
	if err := w.dev.IpcSet(fmt.Sprintf("public_key=%x\nremove=true\n", pub)); err != nil {
		return fmt.Errorf("wireguard transport: removing peer %s: %w", peerName(pub), err)
	}
	return nil
}

// SetPrivateKey replaces this node's key (rotation) and VTEP. WireGuard
// drops every current session; new ones are made with peers that know the
// new public key. Sends after SetPrivateKey returns use vtep as source.
func (w *WireGuard) SetPrivateKey(k UAPIKey, vtep netip.Addr) error {
	key, err := parseUAPIKey(k, "private key")
	if err != nil {
		return fmt.Errorf("wireguard transport: SetPrivateKey: %w", err)
	}
	pub, err := key.public()
	if err != nil {
		return fmt.Errorf("wireguard transport: SetPrivateKey: %w", err)
	}
	if err := checkVTEP(vtep); err != nil {
		return fmt.Errorf("wireguard transport: SetPrivateKey: VTEP: %w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed.Load() {
		return ErrClosed
	}
	if _, ok := w.peers[pub]; ok {
		return fmt.Errorf("wireguard transport: SetPrivateKey: the new public key is peer %s's; remove that peer first", peerName(pub))
	}
	for p, r := range w.peers {
		if r.vtep == vtep {
			return fmt.Errorf("wireguard transport: SetPrivateKey: VTEP %s belongs to peer %s", vtep, peerName(p))
		}
	}
	if err := w.dev.IpcSet("private_key=" + key.uapiHex() + "\n"); err != nil {
		return errors.New("wireguard transport: SetPrivateKey: the device refused the key") // its error could quote the key
	}
	w.pub = pub
	w.vtep.Store(&vtep)
	return nil
}

// peerName is a peer's public key as WireGuard tools print it.
func peerName(pub [32]byte) string { return base64.StdEncoding.EncodeToString(pub[:]) }
