package tables

import (
	"net/netip"
	"reflect"
	"testing"

	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/lb"
)

func svcEntry(t *testing.T, owner string, ltime uint64, d SvcDef) gossip.Entry {
	t.Helper()
	b, err := d.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return gossip.Entry{Key: d.Name, Owner: owner, LTime: ltime, Value: b}
}

func svc(name, network, vip, origin string, ltime uint64) SvcDef {
	d := SvcDef{Service: lb.Service{Name: name, Network: network, Mode: lb.ModeVIP, Ports: []lb.PortSpec{{Port: 80, Proto: lb.ProtoTCP}}},
		Origin: origin, OriginLTime: ltime}
	if vip != "" {
		d.VIP = netip.MustParseAddr(vip)
	}
	return d
}

func TestResolveServices(t *testing.T) {
	nets := map[string]NetDef{"blue": def("blue", 10, "10.0.0.0/24", "a", 1)}
	web := svc("web", "blue", "10.0.0.254", "a", 4)
	webLater := svc("web", "blue", "10.0.0.253", "b", 6)
	dbSameVIP := svc("db", "blue", "10.0.0.254", "c", 9)
	elsewhere := svc("mail", "red", "10.1.0.254", "a", 2)
	cases := []struct {
		name     string
		services []gossip.Entry
		removals []gossip.Entry
		won      []string // name/origin
		lost     []string // loser origin>winner origin
		removed  []string // name/owner
	}{
		{name: "the earliest creation wins a name", services: []gossip.Entry{svcEntry(t, "b", 6, webLater), svcEntry(t, "a", 4, web)},
			won: []string{"web/a"}, lost: []string{"b>a"}},
		{name: "copies of the winner are one service", services: []gossip.Entry{svcEntry(t, "a", 4, web), svcEntry(t, "x", 8, web)},
			won: []string{"web/a"}},
		{name: "a VIP belongs to the earliest service", services: []gossip.Entry{svcEntry(t, "c", 9, dbSameVIP), svcEntry(t, "a", 4, web)},
			won: []string{"web/a"}, lost: []string{"c>a"}},
		{name: "services on undefined networks are left out", services: []gossip.Entry{svcEntry(t, "a", 2, elsewhere)}},
		{name: "removed services are left out and their copies reported", services: []gossip.Entry{svcEntry(t, "x", 8, web)},
			removals: []gossip.Entry{{Key: "web", Owner: "a", Value: web.Removal().Encode()}}, removed: []string{"web/x"}},
		{name: "malformed entries are ignored", services: []gossip.Entry{{Key: "web", Owner: "a", Value: []byte("{")}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			set := ResolveServices(c.services, c.removals, nets)
			var won, lost, removed []string
			for _, s := range set.Services() {
				d := set.Won[s.Name]
				won = append(won, d.Name+"/"+d.Origin)
				if d.VNI != 10 {
					t.Errorf("%s: VNI %d, want the network's 10", d.Name, d.VNI)
				}
			}
			for _, l := range set.Lost {
				lost = append(lost, l.Loser.Origin+">"+l.Winner.Origin)
			}
			for _, d := range set.Removed {
				removed = append(removed, d.Name+"/"+d.Owner)
			}
			if !reflect.DeepEqual([][]string{won, lost, removed}, [][]string{c.won, c.lost, c.removed}) {
				t.Fatalf("won, lost, removed: %q, want %q", [][]string{won, lost, removed}, [][]string{c.won, c.lost, c.removed})
			}
		})
	}
}

func TestDecodeBackends(t *testing.T) {
	blue := def("blue", 10, "10.0.0.0/24", "a", 1)
	services := map[string]SvcDef{"web": svc("web", "blue", "10.0.0.254", "a", 4), "mail": svc("mail", "red", "", "a", 4)}
	addr := netip.MustParseAddrPort("10.0.0.5:80")
	entries := []gossip.Entry{
		{Key: BackendKey("web", addr), Owner: "b", Value: BackendValue{Healthy: true}.Encode()},
		{Key: BackendKey("web", netip.MustParseAddrPort("10.9.0.5:80")), Owner: "b", Value: BackendValue{}.Encode()}, // outside the subnet
		{Key: BackendKey("gone", addr), Owner: "b", Value: BackendValue{}.Encode()},                                  // no such service
		{Key: BackendKey("mail", addr), Owner: "b", Value: BackendValue{}.Encode()},                                  // service on another network
		{Key: "web-no-slash", Owner: "b"},
		{Key: BackendKey("web", netip.MustParseAddrPort("10.0.0.6:80")), Owner: "c", Value: []byte("not json")},
	}
	got := DecodeBackends(blue, entries, services)
	want := []lb.Backend{{Service: "web", Addr: addr, Node: "b", Healthy: true}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("backends %+v, want %+v", got, want)
	}
}
