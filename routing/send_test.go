package routing

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/crypto/curve25519"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/internal/packet"
	"meshnet.dev/meshnet/tun"
)

type hexKey [32]byte

func (k hexKey) UAPIHex() string { return hex.EncodeToString(k[:]) }

// wgEnd is one node of a two-node encrypted network over loopback.
type wgEnd struct {
	key  hexKey
	pub  [32]byte
	vtep netip.Addr
	w    *encap.WireGuard
}

func newWGEnd(t testing.TB, last byte) *wgEnd {
	t.Helper()
	e := &wgEnd{vtep: netip.AddrFrom16([16]byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last})}
	if _, err := rand.Read(e.key[:]); err != nil {
		t.Fatal(err)
	}
	pub, err := curve25519.X25519(e.key[:], curve25519.Basepoint)
	if err != nil {
		t.Fatal(err)
	}
	copy(e.pub[:], pub)
	if e.w, err = encap.NewWireGuard(encap.WireGuardConfig{EphemeralPort: true, PrivateKey: e.key, VTEP: e.vtep}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.w.Close() })
	return e
}

// wgPair is an encrypted network, VNI 5, between two forwarders over a
// real WireGuard pair on loopback: endpoint macA (10.0.0.8) behind fa,
// macB (10.0.0.9) behind fb.
type wgPair struct {
	a, b       *wgEnd
	fa, fb     *Forwarder
	macA, macB packet.MAC
}

// newWGPair builds the pair; cfg's Table and Secure are filled in.
func newWGPair(tb testing.TB, cfg Config) *wgPair {
	tb.Helper()
	p := &wgPair{a: newWGEnd(tb, 1), b: newWGEnd(tb, 2), macA: packet.MAC{2, 0, 0, 0, 0, 1}, macB: packet.MAC{2, 0, 0, 0, 0, 2}}
	lo := netip.MustParseAddr("127.0.0.1")
	if err := p.a.w.SetPeers([]encap.WGPeer{{PublicKey: p.b.pub, Endpoint: netip.AddrPortFrom(lo, p.b.w.LocalPort()), VTEP: p.b.vtep}}); err != nil {
		tb.Fatal(err)
	}
	if err := p.b.w.SetPeers([]encap.WGPeer{{PublicKey: p.a.pub, Endpoint: netip.AddrPortFrom(lo, p.a.w.LocalPort()), VTEP: p.a.vtep}}); err != nil {
		tb.Fatal(err)
	}
	table := func(other string, otherVTEP netip.Addr, otherMAC, selfMAC packet.MAC) *Table {
		t := NewTable()
		t.Update(func(tx *Tx) {
			tx.SetNetwork(NetworkConfig{Name: "n", VNI: 5, Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}, Encrypted: true})
			tx.SetPeer(PeerConfig{Name: other, VTEP: netip.AddrPortFrom(otherVTEP, encap.Port)})
			tx.SetMember(5, other, true)
			tx.SetEndpoint(5, Endpoint{MAC: otherMAC, IP: netip.MustParseAddr("10.0.0.9"), Node: other})
			tx.SetEndpoint(5, Endpoint{MAC: selfMAC, IP: netip.MustParseAddr("10.0.0.8")})
		})
		return t
	}
	ca, cb := cfg, cfg
	ca.Table, ca.Secure = table("b", p.b.vtep, p.macB, p.macA), p.a.w
	cb.Table, cb.Secure = table("a", p.a.vtep, p.macA, p.macB), p.b.w
	p.fa, p.fb = New(ca), New(cb)
	if err := p.b.w.Start(p.fb.SecureReceiver()); err != nil {
		tb.Fatal(err)
	}
	if err := p.a.w.Start(p.fa.SecureReceiver()); err != nil {
		tb.Fatal(err)
	}
	return p
}

// runChannels attaches channel devices to both ends and runs a's port
// until the test ends, checking that it stops only because its device
// closed.
func (p *wgPair) runChannels(t *testing.T) (pa *Port, devA, devB *tun.Channel) {
	t.Helper()
	devA, devB = tun.NewChannel("a", p.macA, 1400), tun.NewChannel("b", p.macB, 1400)
	pa, err := p.fa.Attach(5, devA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.fb.Attach(5, devB); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- pa.Run() }()
	t.Cleanup(func() {
		devA.Close()
		if err := <-done; !errors.Is(err, tun.ErrClosed) {
			t.Errorf("Run = %v, want the device's close error", err)
		}
	})
	return pa, devA, devB
}

// frames builds n distinct TCP frames from macA to macB.
func (p *wgPair) frames(n, size int) [][]byte {
	var fs [][]byte
	for i := range n {
		f := make([]byte, size)
		putTCP4(f, p.macB, p.macA, netip.MustParseAddr("10.0.0.9"), uint16(1000+i), size)
		binary.BigEndian.PutUint32(f[60:], uint32(i))
		fs = append(fs, f)
	}
	return fs
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestEncryptedSendDelivers runs an encrypted network over two real
// WireGuard transports, the port reading into WireGuard's lent buffers
// (and, with CopySend, into its own): unicast frames, a broadcast and a
// frame for an unknown MAC go through the port, and the receiver gets
// exactly the first two kinds, intact.
func TestEncryptedSendDelivers(t *testing.T) {
	for _, copySend := range []bool{false, true} {
		t.Run(map[bool]string{false: "lent", true: "copied"}[copySend], func(t *testing.T) {
			p := newWGPair(t, Config{CopySend: copySend})
			pa, devA, devB := p.runChannels(t)
			want := p.frames(200, 1200)
			bcast := bytes.Clone(want[0])
			bc := packet.BroadcastMAC()
			copy(bcast[0:6], bc[:])
			unknown := bytes.Clone(want[0])
			copy(unknown[0:6], []byte{2, 9, 9, 9, 9, 9})
			for _, f := range append(append(want[:100:100], bcast, unknown), want[100:]...) {
				devA.In <- f
			}
			got := map[string]bool{}
			deadline := time.After(20 * time.Second)
			for len(got) < len(want)+1 {
				select {
				case f := <-devB.Out:
					got[string(f)] = true
				case <-deadline:
					t.Fatalf("received %d of %d frames", len(got), len(want)+1)
				}
			}
			for i, f := range append(want, bcast) {
				if !got[string(f)] {
					t.Fatalf("frame %d missing or changed", i)
				}
			}
			if d := pa.Stats.Drops[DropUnknownUnicast].Load(); d != 1 {
				t.Errorf("unknown unicast drops %d, want 1", d)
			}
			if tx := pa.Stats.TxPackets.Load(); tx != uint64(len(want)+1) {
				t.Errorf("port sent %d packets, want %d", tx, len(want)+1)
			}
		})
	}
}

// TestSendAfterTransportClosed: once the secure transport is closed, the
// port reads on (its device does not back up) and counts every frame it
// would have sent, unicast and broadcast, as a send error, until the device
// closes too.
func TestSendAfterTransportClosed(t *testing.T) {
	p := newWGPair(t, Config{})
	pa, devA, devB := p.runChannels(t)
	fs := p.frames(4, 200)
	devA.In <- fs[0]
	select {
	case <-devB.Out:
	case <-time.After(20 * time.Second):
		t.Fatal("the first frame did not arrive")
	}
	p.a.w.Close()
	bcast := bytes.Clone(fs[1])
	bc := packet.BroadcastMAC()
	copy(bcast[0:6], bc[:])
	for _, f := range [][]byte{fs[1], bcast, fs[2], fs[3]} {
		devA.In <- f
	}
	waitFor(t, "four send errors", func() bool { return pa.Stats.Drops[DropSendError].Load() == 4 })
}

// TestFramesOfUnknownNetworkDropped: a port whose network the table does
// not know (yet) reads and drops its frames, and carries on.
func TestFramesOfUnknownNetworkDropped(t *testing.T) {
	f := New(Config{Table: NewTable()})
	dev := tun.NewChannel("x", packet.MAC{2, 0, 0, 0, 0, 1}, 1400)
	pa, err := f.Attach(7, dev)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- pa.Run() }()
	frame := make([]byte, 60)
	putTCP4(frame, packet.MAC{2, 0, 0, 0, 0, 2}, packet.MAC{2, 0, 0, 0, 0, 1}, netip.MustParseAddr("10.0.0.2"), 1, 60)
	for range 3 {
		dev.In <- frame
	}
	waitFor(t, "three unknown-network drops", func() bool { return pa.Stats.Drops[DropUnknownVNI].Load() == 3 })
	dev.Close()
	if err := <-done; !errors.Is(err, tun.ErrClosed) {
		t.Fatalf("Run = %v, want the device's close error", err)
	}
}
