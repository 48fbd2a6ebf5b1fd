package encap

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/curve25519"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// wgReceiveOffset is where the wireguard transport's Receiver finds the
// VXLAN header: after wireguard-go's 16-byte transport header and the
// tunnel's IPv6 and UDP headers.
const wgReceiveOffset = device.MessageTransportOffsetContent + tunnelHeaderLen

// testKey is a raw key in the shape meshnet's key types have.
type testKey [32]byte

func (k testKey) UAPIHex() string { return hex.EncodeToString(k[:]) }

func newTestKey(t testing.TB) testKey {
	t.Helper()
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return testKey(k)
}

func publicOf(t testing.TB, k testKey) [32]byte {
	t.Helper()
	p, err := curve25519.X25519(k[:], curve25519.Basepoint)
	if err != nil {
		t.Fatal(err)
	}
	return [32]byte(p)
}

// vtepOfKey derives a VTEP from a public key the way a caller might:
// fd00::/8 followed by the key's first 15 bytes.
func vtepOfKey(pub [32]byte) netip.Addr {
	var a [16]byte
	a[0] = 0xfd
	copy(a[1:], pub[:15])
	return netip.AddrFrom16(a)
}

// wgNode is one wireguard transport in a test, with its identity, a
// recorder as its Receiver and a capture of its log.
type wgNode struct {
	t    testing.TB
	w    *WireGuard
	key  testKey
	pub  [32]byte
	vtep netip.Addr
	rec  *wgRecorder
	logs *logCapture
}

// newWGNode starts a transport on an ephemeral port of 127.0.0.1 (and
// ::1), recording what it receives; edit may change its config first.
func newWGNode(t testing.TB, edit func(*WireGuardConfig)) *wgNode {
	t.Helper()
	return newWGNodeReceiving(t, edit, nil)
}

// newWGNodeReceiving is newWGNode with another Receiver than the recorder
// (nil keeps the recorder).
func newWGNodeReceiving(t testing.TB, edit func(*WireGuardConfig), r Receiver) *wgNode {
	t.Helper()
	key := newTestKey(t)
	pub := publicOf(t, key)
	n := &wgNode{t: t, key: key, pub: pub, vtep: vtepOfKey(pub), rec: newWGRecorder(t), logs: &logCapture{}}
	cfg := WireGuardConfig{
		EphemeralPort: true,
		PrivateKey:    key,
		VTEP:          n.vtep,
		Logger:        slog.New(n.logs),
	}
	if edit != nil {
		edit(&cfg)
	}
	w, err := NewWireGuard(cfg)
	if err != nil {
		t.Fatalf("NewWireGuard: %v", err)
	}
	t.Cleanup(func() { w.Close() })
	if r == nil {
		r = n.rec
	}
	if err := w.Start(r); err != nil {
		t.Fatalf("Start: %v", err)
	}
	n.w = w
	return n
}

// peer describes n as a peer reachable on loopback.
func (n *wgNode) peer(psk UAPIKey) WGPeer {
	return WGPeer{
		PublicKey: n.pub,
		PSK:       psk,
		Endpoint:  netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), n.w.LocalPort()),
		VTEP:      n.vtep,
	}
}

// from is the address n's packets arrive from, and where to send to n.
func (n *wgNode) from() netip.AddrPort { return netip.AddrPortFrom(n.vtep, Port) }

func (n *wgNode) setPeers(peers ...WGPeer) {
	n.t.Helper()
	if err := n.w.SetPeers(peers); err != nil {
		n.t.Fatalf("SetPeers: %v", err)
	}
}

// peerStats returns n's view of peer pub; ok is false if it has none.
func (n *wgNode) peerStats(pub [32]byte) (WGPeerStats, bool) {
	n.t.Helper()
	st, err := n.w.PeerStats()
	if err != nil {
		n.t.Fatalf("PeerStats: %v", err)
	}
	for _, s := range st {
		if s.PublicKey == pub {
			return s, true
		}
	}
	return WGPeerStats{}, false
}

// sendAndCheck sends batch vni of n packets from a to b and checks b got exactly
// them, from a.
func sendAndCheck(t *testing.T, a, b *wgNode, vni uint32, n int) {
	t.Helper()
	b.rec.reset()
	if err := a.w.Send(makeBatch(vni, n), Headroom, b.from()); err != nil {
		t.Fatalf("Send of %d packets: %v", n, err)
	}
	checkBatch(t, b.rec.waitFor(n, testWait), vni, n, a.from())
	b.rec.reset()
}

// connect makes a and b each other's peers and proves it both ways.
func connect(t *testing.T, a, b *wgNode) {
	t.Helper()
	a.setPeers(b.peer(nil))
	b.setPeers(a.peer(nil))
	sendAndCheck(t, a, b, 1, 1)
	sendAndCheck(t, b, a, 1, 1)
}

// waitUntil polls cond until it holds or the deadline passes.
func waitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !pollUntil(timeout, cond) {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}

// pollUntil polls cond, backing off from 1 ms to 100 ms, until it holds
// (true) or timeout passes (false).
func pollUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for delay := time.Millisecond; !cond(); delay = min(2*delay, 100*time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(delay)
	}
	return true
}

// wgRecorder records what a wireguard transport delivers, checking the
// Receiver contract and the transport's offset on the way.
type wgRecorder struct {
	t      testing.TB
	mu     sync.Mutex
	pkts   []recvPacket
	calls  int
	notify chan struct{}
}

func newWGRecorder(t testing.TB) *wgRecorder {
	return &wgRecorder{t: t, notify: make(chan struct{}, 1)}
}

func (r *wgRecorder) Receive(bufs [][]byte, sizes []int, offset int, from []netip.AddrPort) {
	if len(bufs) != len(sizes) || len(bufs) != len(from) || len(bufs) == 0 {
		r.t.Errorf("Receive got %d bufs, %d sizes, %d addresses; want equal, non-zero", len(bufs), len(sizes), len(from))
		return
	}
	if offset != wgReceiveOffset {
		r.t.Errorf("Receive offset = %d, want %d", offset, wgReceiveOffset)
	}
	r.mu.Lock()
	r.calls++
	for i, b := range bufs {
		if sizes[i] <= 0 || offset+sizes[i] > len(b) {
			r.t.Errorf("packet %d: size %d does not fit a %d-byte buffer at offset %d", i, sizes[i], len(b), offset)
			continue
		}
		b[0] = 0xee // headroom is the receiver's to use
		r.pkts = append(r.pkts, recvPacket{data: append([]byte(nil), b[offset:offset+sizes[i]]...), from: from[i]})
	}
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// waitFor waits until at least n packets arrived and returns all of them.
func (r *wgRecorder) waitFor(n int, timeout time.Duration) []recvPacket {
	r.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		if len(r.pkts) >= n {
			pkts := append([]recvPacket(nil), r.pkts...)
			r.mu.Unlock()
			return pkts
		}
		got := len(r.pkts)
		r.mu.Unlock()
		select {
		case <-r.notify:
		case <-deadline.C:
			r.t.Fatalf("received %d packets within %v, want %d", got, timeout, n)
		}
	}
}

// snapshot returns what arrived so far.
func (r *wgRecorder) snapshot() []recvPacket {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recvPacket(nil), r.pkts...)
}

func (r *wgRecorder) reset() {
	r.mu.Lock()
	r.pkts = nil
	r.mu.Unlock()
}

// logCapture is a slog.Handler that keeps every record as one line of
// text, message and attributes.
type logCapture struct {
	mu    sync.Mutex
	lines []string
	attrs []slog.Attr // from WithAttrs; shared prefix of a derived handler
	root  *logCapture // where lines go; nil for the root itself
}

func (h *logCapture) sink() *logCapture {
	if h.root != nil {
		return h.root
	}
	return h
}

func (h *logCapture) Enabled(context.Context, slog.Level) bool { return true }

func (h *logCapture) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	for _, a := range h.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	s := h.sink()
	s.mu.Lock()
	s.lines = append(s.lines, b.String())
	s.mu.Unlock()
	return nil
}

func (h *logCapture) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logCapture{attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...), root: h.sink()}
}

func (h *logCapture) WithGroup(string) slog.Handler { return h }

// text returns everything logged so far.
func (h *logCapture) text() string {
	s := h.sink()
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n")
}

// count returns how many lines contain sub.
func (h *logCapture) count(sub string) int {
	return strings.Count(h.text(), sub)
}
