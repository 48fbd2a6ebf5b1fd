package control

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/keydist"
	"meshnet.dev/meshnet/node/api"
	"meshnet.dev/meshnet/node/config"
	"meshnet.dev/meshnet/node/tables"
	"meshnet.dev/meshnet/routing"
)

func pubKey(t *testing.T) keydist.NodePublic {
	t.Helper()
	k, err := keydist.NewNodePrivate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k.Public()
}

// staticState is the fake node with WireGuard, a paired member n2, a
// member n4 on another network, and an encrypted static peer "router"
// with a fixed preshared key on blue.
func staticState(t *testing.T) (State, keydist.NodePublic, keydist.NodePublic) {
	s := newFakeNode().state
	self, n2, n4 := pubKey(t), pubKey(t), pubKey(t)
	s.Keys.PublicKey, s.WGPort = self.String(), 51820
	wg := func(k keydist.NodePublic, at string) tables.Meta {
		return tables.Meta{VXLAN: netip.MustParseAddrPort(at + ":4789"), Key: k, WG: netip.MustParseAddrPort(at + ":51820")}
	}
	s.Members[0].Meta = wg(n2, "192.0.2.2")
	s.Members = append(s.Members, Member{Member: gossip.Member{Name: "n4", State: gossip.StateAlive, Networks: []string{"green"}}, Meta: wg(n4, "192.0.2.4")})
	tbl := routing.NewTable()
	tbl.Update(func(tx *routing.Tx) {
		tx.SetPeer(routing.PeerConfig{Name: "n2", VTEP: netip.AddrPortFrom(keydist.VTEP(n2), encap.Port)})
		tx.SetPeer(routing.PeerConfig{Name: "n4", VTEP: netip.AddrPortFrom(keydist.VTEP(n4), encap.Port)})
	})
	s.Table = tbl.Snapshot()
	router := pubKey(t)
	psk, _ := keydist.PresharedKeyFromBytes(bytes.Repeat([]byte{3}, 32))
	s.Static = []tables.StaticPeer{
		{Name: "router", Key: router, VTEP: keydist.VTEP(router), PSK: psk, WG: netip.MustParseAddrPort("192.0.2.20:51999"), Sponsors: []string{"n2"},
			Endpoints: []tables.StaticEndpoint{{Network: "blue", IP: netip.MustParseAddr("10.0.0.200"), MAC: config.InterfaceMAC("router", "blue")}}},
		{Name: "kernel", Underlay: netip.MustParseAddrPort("192.0.2.30:4789")},
	}
	s.WireGuard = []encap.WGPeerStats{{PublicKey: router.Raw32(), RxBytes: 92}}
	return s, self, n2
}

func TestPeerSetup(t *testing.T) {
	s, self, n2 := staticState(t)
	got, err := PeerSetup(s, "router")
	if err != nil {
		t.Fatal(err)
	}
	r := s.Static[0]
	want := api.PeerSetup{Name: "router", PublicKey: r.Key.String(), VTEP: r.VTEP.String(), ListenPort: 51999, PresharedKey: true,
		Networks: []api.PeerSetupNetwork{{Name: "blue", VNI: 10, Subnet: "10.0.0.0/24", MTU: 1400,
			Endpoints: []api.Endpoint{{IP: "10.0.0.200", MAC: config.FormatMAC(config.InterfaceMAC("router", "blue")), Node: "router"}}}},
		Members: []api.PeerSetupMember{
			{Name: "n1", PublicKey: self.String(), Endpoint: "192.0.2.1:51820", VTEP: keydist.VTEP(self).String()},
			{Name: "n2", PublicKey: n2.String(), Endpoint: "192.0.2.2:51820", VTEP: keydist.VTEP(n2).String()},
		}, // not n4: it is not on blue
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("setup\n got %+v\nwant %+v", got, want)
	}
	b, _ := json.Marshal(got)
	if bytes.Contains(b, []byte("AwMDAwMD")) || strings.Contains(string(b), "redacted") {
		t.Fatalf("the setup carries the preshared key: %s", b)
	}
	for name, want := range map[string]string{"nobody": "no static peer", "kernel": "plain VXLAN peer"} {
		if _, err := PeerSetup(s, name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", name, err, want)
		}
	}
	if _, err := PeerSetup(s, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown peer: %v, want ErrNotFound", err)
	}
	s.Networks = nil
	if _, err := PeerSetup(s, "router"); err == nil || !strings.Contains(err.Error(), "not on network blue") {
		t.Errorf("a node off the peer's network: %v", err)
	}
}

// meshnet peers shows a static peer's key, VTEP, sponsors and the kind of
// its preshared key, and members' keys as epoch keys.
func TestPeersShowStaticPeers(t *testing.T) {
	s, _, _ := staticState(t)
	byName := map[string]api.Peer{}
	for _, p := range Peers(s) {
		byName[p.Name] = p
	}
	r, k, n2 := byName["router"], byName["kernel"], byName["n2"]
	if r.State != "static" || r.PSKKind != "fixed" || r.Underlay != "192.0.2.20:51999" || r.VTEP != s.Static[0].VTEP.String() ||
		!reflect.DeepEqual(r.Sponsors, []string{"n2"}) || !reflect.DeepEqual(r.Networks, []string{"blue"}) || r.WGRxBytes != 92 {
		t.Errorf("router %+v", r)
	}
	if k.State != "static" || k.PSKKind != "" || k.Underlay != "192.0.2.30:4789" || k.PublicKey != "" {
		t.Errorf("kernel %+v", k)
	}
	if n2.PSKKind != "epoch" {
		t.Errorf("n2 %+v", n2)
	}
}

// The setup reaches the CLI through the client; an unknown peer answers
// 404 with the reason.
func TestPeerSetupThroughTheClient(t *testing.T) {
	f := newFakeNode()
	f.state, _, _ = staticState(t)
	dir, do := serve(t, f)
	c := api.NewClient(filepath.Join(dir, api.SocketName))
	got, err := c.PeerSetup(context.Background(), "router")
	if err != nil || got.Name != "router" || len(got.Members) != 2 {
		t.Fatalf("setup %+v %v", got, err)
	}
	if code, body := do("GET", "/v1/peers/nobody/setup", ""); code != 404 || !strings.Contains(body, "no static peer") {
		t.Fatalf("unknown peer: %d %s", code, body)
	}
}
