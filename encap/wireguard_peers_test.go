package encap

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// wgWireBytes is what n tunnelled packets of size VXLAN bytes each cost on
// WireGuard's wire (its tx/rx byte counters): a 32-byte header and tag
// around the IPv6 packet padded to 16 bytes. Only for packets within the
// MTU.
func wgWireBytes(n, size, mtu int) uint64 {
	padded := min((tunnelHeaderLen+size+15)&^15, mtu)
	return uint64(n * (32 + padded))
}

// fromAddrs lists the distinct senders of pkts.
func fromAddrs(pkts []recvPacket) map[netip.AddrPort]int {
	m := map[netip.AddrPort]int{}
	for _, p := range pkts {
		m[p.from]++
	}
	return m
}

func TestWireGuardPSKMismatch(t *testing.T) {
	a, b := newWGNode(t, nil), newWGNode(t, nil)
	a.setPeers(b.peer(newTestKey(t)))
	b.setPeers(a.peer(newTestKey(t)))
	if err := a.w.Send(makeBatch(1, 8), Headroom, b.from()); err != nil {
		t.Fatal(err)
	}
	// b answers a's handshake initiation (the preshared key only enters
	// with the response), and a, holding another preshared key, rejects
	// the response: no session can exist after that.
	waitUntil(t, testWait, "a to reject b's handshake response", func() bool {
		return a.logs.count("Received invalid response message") > 0
	})
	for _, n := range []*wgNode{a, b} {
		if got := n.rec.snapshot(); len(got) != 0 {
			t.Errorf("%d packets delivered despite mismatched preshared keys", len(got))
		}
		for _, st := range mustPeerStats(t, n) {
			if !st.LastHandshake.IsZero() {
				t.Errorf("handshake completed at %v despite mismatched preshared keys", st.LastHandshake)
			}
		}
	}
}

func mustPeerStats(t *testing.T, n *wgNode) []WGPeerStats {
	t.Helper()
	st, err := n.w.PeerStats()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestWireGuardRemovePeer checks eviction: once RemovePeer returns, a
// removed peer that still holds a session delivers nothing. A third node,
// c, is the barrier: b reads a's and c's datagrams from one socket in
// order, so once c's marker (sent after a's packets left a) arrives, b has
// seen and dropped a's.
func TestWireGuardRemovePeer(t *testing.T) {
	a, b, c := newWGNode(t, nil), newWGNode(t, nil), newWGNode(t, nil)
	a.setPeers(b.peer(nil))
	c.setPeers(b.peer(nil))
	b.setPeers(a.peer(nil), c.peer(nil))
	sendAndCheck(t, a, b, 1, 4)
	sendAndCheck(t, c, b, 2, 4)

	if err := b.w.RemovePeer(a.pub); err != nil {
		t.Fatalf("RemovePeer: %v", err)
	}
	if _, ok := b.peerStats(a.pub); ok {
		t.Error("b still lists a after RemovePeer")
	}
	if err := b.w.Send(makeBatch(3, 1), Headroom, a.from()); !errors.Is(err, ErrUnknownVTEP) {
		t.Errorf("b.Send to removed a: err = %v, want ErrUnknownVTEP", err)
	}

	// a still has its session and sends; its packets reach b's socket.
	const n, size = 32, 200
	before, _ := a.peerStats(b.pub)
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, Headroom+size)
		fillPacket(bufs[i][Headroom:], 4, i)
	}
	if err := a.w.Send(bufs, Headroom, b.from()); err != nil {
		t.Fatal(err)
	}
	want := before.TxBytes + wgWireBytes(n, size, defaultTunnelMTU)
	waitUntil(t, testWait, "a's packets to leave a", func() bool {
		st, _ := a.peerStats(b.pub)
		return st.TxBytes >= want
	})
	// The barrier; b's recorder was last reset before a sent.
	if err := c.w.Send(makeBatch(5, 1), Headroom, b.from()); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, testWait, "c's marker", func() bool { return fromAddrs(b.rec.snapshot())[c.from()] > 0 })
	if got := fromAddrs(b.rec.snapshot())[a.from()]; got != 0 {
		t.Errorf("%d packets from a delivered after RemovePeer returned", got)
	}
	if err := b.w.RemovePeer(a.pub); err != nil {
		t.Errorf("removing a again: %v", err)
	}
}

// TestWireGuardSpoofedVTEP checks cryptokey routing: c, a peer of b, sends
// packets whose source is a's VTEP; b must not deliver them. c's honest
// packets that follow (same session, delivered in order) are the barrier.
func TestWireGuardSpoofedVTEP(t *testing.T) {
	a := newWGNode(t, nil)
	c := newWGNode(t, func(cfg *WireGuardConfig) { cfg.VTEP = a.vtep }) // c claims a's VTEP
	b := newWGNode(t, nil)
	honest := vtepOfKey(c.pub)
	b.setPeers(a.peer(nil), WGPeer{PublicKey: c.pub, Endpoint: c.peer(nil).Endpoint, VTEP: honest})
	c.setPeers(b.peer(nil))

	spoofed := makeBatch(1, 16)
	var spoofedBytes uint64
	for _, p := range spoofed {
		spoofedBytes += uint64(32 + tunnelHeaderLen + len(p) - Headroom)
	}
	if err := c.w.Send(spoofed, Headroom, b.from()); err != nil {
		t.Fatal(err)
	}
	if err := c.w.SetPrivateKey(c.key, honest); err != nil { // same key: the session stays
		t.Fatal(err)
	}
	if err := c.w.Send(makeBatch(2, 4), Headroom, b.from()); err != nil {
		t.Fatal(err)
	}
	pkts := b.rec.waitFor(4, testWait)
	checkBatch(t, pkts, 2, 4, netip.AddrPortFrom(honest, Port))
	if st := b.w.Stats(); st.Dropped != 0 {
		t.Errorf("b dropped %d packets itself; WireGuard should have refused them first (%v)", st.Dropped, b.w.Drops())
	}
	if st, _ := b.peerStats(c.pub); st.RxBytes < spoofedBytes {
		t.Errorf("b received only %d bytes from c; the spoofed packets never arrived", st.RxBytes)
	}
}

func TestWireGuardSetPeersUnchangedKeepsSessions(t *testing.T) {
	a, b := newWGNode(t, nil), newWGNode(t, nil)
	psk := newTestKey(t)
	pa, pb := a.peer(psk), b.peer(psk)
	a.setPeers(pb)
	b.setPeers(pa)
	sendAndCheck(t, a, b, 1, 2)
	sendAndCheck(t, b, a, 1, 2)
	// Turning keepalives on is a change, applied to the live session.
	// (Both sides configured with keepalives at once would both initiate
	// and collide; WireGuard sorts that out only on its 5 s retry.)
	pa.Keepalive, pb.Keepalive = 25*time.Second, 25*time.Second
	a.setPeers(pb)
	b.setPeers(pa)
	hsA, _ := a.peerStats(b.pub)
	hsB, _ := b.peerStats(a.pub)
	if hsA.LastHandshake.IsZero() || hsB.LastHandshake.IsZero() {
		t.Fatal("no handshake after traffic")
	}
	uapiBefore := a.logs.count("UAPI:") + b.logs.count("UAPI:")

	for range 3 {
		a.setPeers(pb)
		b.setPeers(pa)
	}
	if got := a.logs.count("UAPI:") + b.logs.count("UAPI:"); got != uapiBefore {
		t.Errorf("SetPeers with an unchanged set reconfigured the device (%d configuration steps)", got-uapiBefore)
	}
	sendAndCheck(t, a, b, 2, 8)
	sendAndCheck(t, b, a, 2, 8)
	if st, _ := a.peerStats(b.pub); !st.LastHandshake.Equal(hsA.LastHandshake) {
		t.Errorf("a re-handshook with b: %v, was %v", st.LastHandshake, hsA.LastHandshake)
	}
	if st, _ := b.peerStats(a.pub); !st.LastHandshake.Equal(hsB.LastHandshake) || st.Keepalive != 25*time.Second {
		t.Errorf("b's view of a: handshake %v (was %v), keepalive %v", st.LastHandshake, hsB.LastHandshake, st.Keepalive)
	}
}

func TestWireGuardSetPeersEndpointChange(t *testing.T) {
	a, b, c := newWGNode(t, nil), newWGNode(t, nil), newWGNode(t, nil)
	a.setPeers(b.peer(nil))
	c.setPeers(b.peer(nil))
	pa, pc := a.peer(nil), c.peer(nil)
	b.setPeers(pa, pc)
	sendAndCheck(t, b, a, 1, 2)
	sendAndCheck(t, b, c, 1, 2)
	hsA, _ := b.peerStats(a.pub)
	hsC, _ := b.peerStats(c.pub)

	// c moves to its IPv6 address (it listens on both).
	pc.Endpoint = netip.AddrPortFrom(netip.IPv6Loopback(), pc.Endpoint.Port())
	b.setPeers(pa, pc)
	if st, _ := b.peerStats(c.pub); st.Endpoint != pc.Endpoint {
		t.Fatalf("b sends to c at %s, want %s", st.Endpoint, pc.Endpoint)
	}
	sendAndCheck(t, b, c, 2, 4)
	sendAndCheck(t, c, b, 2, 4)
	sendAndCheck(t, b, a, 2, 4)
	sendAndCheck(t, a, b, 2, 4)
	if st, _ := b.peerStats(a.pub); !st.LastHandshake.Equal(hsA.LastHandshake) {
		t.Errorf("changing c's endpoint re-handshook a: %v, was %v", st.LastHandshake, hsA.LastHandshake)
	}
	if st, _ := b.peerStats(c.pub); !st.LastHandshake.Equal(hsC.LastHandshake) || st.Endpoint != pc.Endpoint {
		t.Errorf("c after its endpoint change: handshake %v (was %v), endpoint %s", st.LastHandshake, hsC.LastHandshake, st.Endpoint)
	}
	if st, _ := c.peerStats(b.pub); st.Endpoint.Addr() != netip.IPv6Loopback() {
		t.Errorf("c sees b at %s; want it to follow b to ::1", st.Endpoint)
	}
}

func TestWireGuardSetPeersChanges(t *testing.T) {
	a, b, c := newWGNode(t, nil), newWGNode(t, nil), newWGNode(t, nil)
	a.setPeers(b.peer(nil))
	c.setPeers(b.peer(nil))
	b.setPeers(a.peer(nil), c.peer(nil))
	sendAndCheck(t, a, b, 1, 1)

	// A new VTEP for a: a moves too (same key), b follows; no gap, no
	// second allowed IP.
	newVTEP := netip.MustParseAddr("fd99::a")
	if err := a.w.SetPrivateKey(a.key, newVTEP); err != nil {
		t.Fatal(err)
	}
	a.vtep = newVTEP
	b.setPeers(a.peer(nil), c.peer(nil))
	if st, _ := b.peerStats(a.pub); st.VTEP != newVTEP {
		t.Errorf("b's allowed IP for a is %s, want %s", st.VTEP, newVTEP)
	}
	sendAndCheck(t, a, b, 2, 2)
	sendAndCheck(t, b, a, 2, 2)

	// A peer added behind SetPeers' back (as `wg set` would) goes at the
	// next SetPeers; a listed peer whose allowed IP was removed by hand
	// gets it back.
	stray := newTestKey(t)
	if err := b.w.dev.IpcSet(fmt.Sprintf("public_key=%x\nallowed_ip=fd77::1/128\npublic_key=%x\nallowed_ip=-%s/128\n", stray, c.pub, c.vtep)); err != nil {
		t.Fatal(err)
	}
	b.setPeers(a.peer(nil), c.peer(nil))
	if _, ok := b.peerStats(stray); ok {
		t.Error("a peer added by hand survived SetPeers")
	}
	if st, _ := b.peerStats(c.pub); st.VTEP != c.vtep {
		t.Errorf("c's allowed IP is %s after SetPeers, want %s restored", st.VTEP, c.vtep)
	}

	// Dropping c from the set removes it.
	b.setPeers(a.peer(nil))
	if _, ok := b.peerStats(c.pub); ok {
		t.Error("c is still a peer of b after SetPeers without it")
	}
	if err := b.w.Send(makeBatch(3, 1), Headroom, c.from()); !errors.Is(err, ErrUnknownVTEP) {
		t.Errorf("Send to removed c: %v, want ErrUnknownVTEP", err)
	}
}

func TestWireGuardSetPeersErrors(t *testing.T) {
	a, b := newWGNode(t, nil), newWGNode(t, nil)
	good := b.peer(nil)
	dupVTEP := a.peer(nil)
	dupVTEP.PublicKey = [32]byte(newTestKey(t)) // any other key
	dupVTEP.VTEP = good.VTEP
	for _, tc := range []struct {
		name  string
		peers []WGPeer
		want  string
	}{
		{"zero key", []WGPeer{{VTEP: good.VTEP}}, "all zeros"},
		{"own key", []WGPeer{{PublicKey: a.pub, VTEP: good.VTEP}}, "own"},
		{"twice", []WGPeer{good, good}, "twice"},
		{"same VTEP", []WGPeer{good, dupVTEP}, "also peers[0]'s"},
		{"own VTEP", []WGPeer{{PublicKey: b.pub, VTEP: a.vtep}}, "this node's own"},
		{"IPv4 VTEP", []WGPeer{{PublicKey: b.pub, VTEP: netip.MustParseAddr("10.1.1.1")}}, "unique local"},
		{"port 0", []WGPeer{{PublicKey: b.pub, VTEP: good.VTEP, Endpoint: netip.MustParseAddrPort("127.0.0.1:0")}}, "non-zero port"},
		{"bad PSK", []WGPeer{{PublicKey: b.pub, VTEP: good.VTEP, PSK: badKey("xyz")}}, "PSK"},
		{"keepalive", []WGPeer{{PublicKey: b.pub, VTEP: good.VTEP, Keepalive: -time.Second}}, "keepalive"},
	} {
		err := a.w.SetPeers(tc.peers)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
	if st := mustPeerStats(t, a); len(st) != 0 {
		t.Errorf("rejected SetPeers calls left %d peers", len(st))
	}
	// A peer without endpoint is fine: it can reach us.
	noEndpoint := a.peer(nil)
	noEndpoint.Endpoint = netip.AddrPort{}
	b.setPeers(noEndpoint)
	a.setPeers(b.peer(nil))
	sendAndCheck(t, a, b, 1, 2)
	sendAndCheck(t, b, a, 1, 2)
}

func TestWireGuardSetPrivateKey(t *testing.T) {
	a, b := newWGNode(t, nil), newWGNode(t, nil)
	connect(t, a, b)

	newKey := newTestKey(t)
	newPub := publicOf(t, newKey)
	newVTEP := vtepOfKey(newPub)
	if err := a.w.SetPrivateKey(newKey, newVTEP); err != nil {
		t.Fatalf("SetPrivateKey: %v", err)
	}
	if a.w.PublicKey() != newPub || a.w.VTEP() != newVTEP {
		t.Fatal("PublicKey or VTEP do not report the new identity")
	}
	a.key, a.pub, a.vtep = newKey, newPub, newVTEP
	b.setPeers(a.peer(nil)) // b learns a's new identity; the old one goes

	sendAndCheck(t, b, a, 2, 8)
	sendAndCheck(t, a, b, 2, 8) // arrives from the new VTEP
	st := mustPeerStats(t, b)
	if len(st) != 1 || st[0].PublicKey != newPub || st[0].LastHandshake.IsZero() {
		t.Errorf("b's peers after the rotation: %+v; want only a's new key, with a handshake", st)
	}

	if err := a.w.SetPrivateKey(newTestKey(t), b.vtep); err == nil {
		t.Error("SetPrivateKey with a peer's VTEP: no error")
	}
	if err := a.w.SetPrivateKey(testKey{}, newVTEP); err == nil {
		t.Error("SetPrivateKey with a zero key: no error")
	}
}

// A peer that restarted (a new generation) is configured afresh: its old
// session and WireGuard's record of its newest handshake timestamp go, so
// a peer whose clock went back can handshake again. Same-generation
// updates keep the session.
func TestWireGuardSetPeersNewGenerationStartsAfresh(t *testing.T) {
	a, b := newWGNode(t, nil), newWGNode(t, nil)
	psk := newTestKey(t)
	pa, pb := a.peer(psk), b.peer(psk)
	pb.Generation = 1
	a.setPeers(pb)
	b.setPeers(pa)
	sendAndCheck(t, a, b, 1, 2)
	before, _ := a.peerStats(b.pub)
	if before.LastHandshake.IsZero() || before.RxBytes == 0 {
		t.Fatalf("no session after traffic: %+v", before)
	}
	a.setPeers(pb) // same generation: nothing changes
	if st, _ := a.peerStats(b.pub); !st.LastHandshake.Equal(before.LastHandshake) {
		t.Fatalf("same generation re-handshook: %v, was %v", st.LastHandshake, before.LastHandshake)
	}
	pb.Generation = 2
	a.setPeers(pb)
	if st, _ := a.peerStats(b.pub); !st.LastHandshake.IsZero() || st.RxBytes != 0 {
		t.Fatalf("a new generation kept the old session: %+v", st)
	}
	sendAndCheck(t, a, b, 1, 2)
	sendAndCheck(t, b, a, 1, 2)
}
