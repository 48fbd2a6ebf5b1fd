package tables

import (
	"crypto/rand"
	"net/netip"
	"reflect"
	"testing"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/keydist"
	"meshnet.dev/meshnet/routing"
)

func TestPeers(t *testing.T) {
	key := func() keydist.NodePublic {
		k, err := keydist.NewNodePrivate(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k.Public()
	}
	good, evicted := key(), key()
	meta := func(m Meta) []byte {
		b, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	vx := func(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
	members := []gossip.Member{
		{Name: "self", State: gossip.StateAlive, Meta: meta(Meta{VXLAN: vx("192.0.2.1:4789")})},
		{Name: "plain", State: gossip.StateAlive, Meta: meta(Meta{VXLAN: vx("192.0.2.2:4789")})},
		{Name: "wg", State: gossip.StateSuspect, Meta: meta(Meta{VXLAN: vx("192.0.2.3:4789"), Key: good, WG: vx("192.0.2.3:51820")})},
		{Name: "dead", State: gossip.StateFailed, Meta: meta(Meta{VXLAN: vx("192.0.2.4:4789")})},
		{Name: "evicted", State: gossip.StateAlive, Meta: meta(Meta{VXLAN: vx("192.0.2.5:4789"), Key: evicted, WG: vx("192.0.2.5:51820")})},
		{Name: "garbled", State: gossip.StateAlive, Meta: []byte("{")},
		{Name: "kernel", State: gossip.StateAlive, Meta: meta(Meta{VXLAN: vx("192.0.2.6:4789")})},
	}
	static := []routing.PeerConfig{{Name: "kernel", Underlay: vx("192.0.2.66:4789")}, {Name: "router", Underlay: vx("192.0.2.67:4789")}}
	got := Peers("self", members, func(k keydist.NodePublic) bool { return k == evicted }, static)
	want := []routing.PeerConfig{
		{Name: "kernel", Underlay: vx("192.0.2.6:4789")}, // the member wins the name
		{Name: "plain", Underlay: vx("192.0.2.2:4789")},
		{Name: "router", Underlay: vx("192.0.2.67:4789")},
		{Name: "wg", Underlay: vx("192.0.2.3:4789"), VTEP: netip.AddrPortFrom(keydist.VTEP(good), encap.Port)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("peers\n got %+v\nwant %+v", got, want)
	}
	tbl := routing.NewTable()
	tbl.Update(func(tx *routing.Tx) { tx.SetPeer(routing.PeerConfig{Name: "dead"}) })
	tbl.Update(func(tx *routing.Tx) { SetPeers(tx, got) })
	var names []string
	for _, p := range tbl.Snapshot().Peers() {
		names = append(names, p.Name)
	}
	if !reflect.DeepEqual(names, []string{"kernel", "plain", "router", "wg"}) {
		t.Fatalf("table peers after SetPeers: %v", names)
	}
}
