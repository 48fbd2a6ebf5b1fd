package keysync

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/netip"
	"testing"

	"meshnet.dev/meshnet/keydist"
	"meshnet.dev/meshnet/node/internal/gossipfake"
	"meshnet.dev/meshnet/node/tables"
)

// An encrypted static peer is paired with its own fixed preshared key, not
// the epoch's, and keeps it across rotations; a plain one is not paired;
// an evicted key is not paired either.
func TestStaticPeersPairWithTheirFixedKey(t *testing.T) {
	net := gossipfake.NewCluster()
	admin := addNode(t, net, "n1", nil)
	priv, err := keydist.NewNodePrivate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub := priv.Public()
	psk, _ := keydist.PresharedKeyFromBytes(bytes.Repeat([]byte{9}, 32))
	static := []tables.StaticPeer{
		{Name: "router", Key: pub, VTEP: keydist.VTEP(pub), PSK: psk, WG: netip.MustParseAddrPort("192.0.2.20:51820")},
		{Name: "kernel", Underlay: netip.MustParseAddrPort("192.0.2.30:4789")},
	}
	for round := range 2 {
		paired := admin.k.PairPeers(admin.g.Members(), static)
		if !paired["router"] || paired["kernel"] {
			t.Fatalf("round %d: paired %v", round, paired)
		}
		p, ok := admin.wg.peer(pub)
		if !ok || p.PSK == nil || p.PSK.UAPIHex() != psk.UAPIHex() || p.VTEP != keydist.VTEP(pub) || p.Endpoint != static[0].WG {
			t.Fatalf("round %d: WireGuard peer %+v", round, p)
		}
		epoch := admin.k.Epoch()
		if err := admin.k.rotate(context.Background(), keydist.ReasonOnDemand); err != nil {
			t.Fatal(err)
		}
		admin.k.Sync()
		if admin.k.Epoch() == epoch {
			t.Fatal("the rotation did not change the epoch")
		}
	}
	static[0].PSK = keydist.SymmetricKey{}
	admin.k.PairPeers(admin.g.Members(), static)
	if p, _ := admin.wg.peer(pub); p.PSK != nil {
		t.Fatal("a static peer without a preshared key got one")
	}
}
