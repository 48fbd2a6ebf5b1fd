package tables

import (
	"net/netip"
	"reflect"
	"testing"

	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/internal/packet"
	"meshnet.dev/meshnet/routing"
)

var (
	macA = packet.MAC{2, 0, 0, 0, 0, 0xa}
	macB = packet.MAC{2, 0, 0, 0, 0, 0xb}
	macC = packet.MAC{2, 0, 0, 0, 0, 0xc}
)

func ep(owner string, ltime uint64, mac packet.MAC, ip string) gossip.Entry {
	var a netip.Addr
	if ip != "" {
		a = netip.MustParseAddr(ip)
	}
	return gossip.Entry{Key: EndpointKey(mac, a), Owner: owner, LTime: ltime}
}

func TestNetwork(t *testing.T) {
	blue := def("blue", 10, "10.0.0.0/24", "a", 1)
	secret := blue
	secret.Encrypted = true
	ip := netip.MustParseAddr
	cases := []struct {
		name  string
		in    NetworkInput
		eps   []routing.Endpoint
		dups  []Duplicate
		peers []string
	}{{
		name: "own endpoints have no node; members leave self out",
		in: NetworkInput{Self: "a", Def: blue, Members: []string{"a", "b"},
			Endpoints: []gossip.Entry{ep("a", 1, macA, "10.0.0.1"), ep("b", 2, macB, "10.0.0.5")}},
		eps:   []routing.Endpoint{{MAC: macA, IP: ip("10.0.0.1")}, {MAC: macB, IP: ip("10.0.0.5"), Node: "b"}},
		peers: []string{"b"},
	}, {
		name: "the earliest claim of an address wins and the others are reported",
		in: NetworkInput{Self: "a", Def: blue, Members: []string{"b", "c"},
			Endpoints: []gossip.Entry{ep("c", 3, macC, "10.0.0.5"), ep("b", 2, macB, "10.0.0.5")}},
		eps:   []routing.Endpoint{{MAC: macB, IP: ip("10.0.0.5"), Node: "b"}},
		dups:  []Duplicate{{Network: "blue", IP: "10.0.0.5", Winner: "b", Losers: []string{"c"}}},
		peers: []string{"b", "c"},
	}, {
		name: "a MAC-only endpoint is dropped when its owner also gives it an address",
		in: NetworkInput{Self: "a", Def: blue, Members: []string{"b"},
			Endpoints: []gossip.Entry{ep("b", 1, macB, ""), ep("b", 2, macB, "10.0.0.5"), ep("b", 3, macC, "")}},
		eps:   []routing.Endpoint{{MAC: macC, Node: "b"}, {MAC: macB, IP: ip("10.0.0.5"), Node: "b"}},
		peers: []string{"b"},
	}, {
		name: "encrypted networks list only paired nodes' endpoints",
		in: NetworkInput{Self: "a", Def: secret, Members: []string{"b", "c"}, Paired: map[string]bool{"b": true},
			Endpoints: []gossip.Entry{ep("a", 1, macA, "10.0.0.1"), ep("b", 1, macB, "10.0.0.5"), ep("c", 1, macC, "10.0.0.6")}},
		eps:   []routing.Endpoint{{MAC: macA, IP: ip("10.0.0.1")}, {MAC: macB, IP: ip("10.0.0.5"), Node: "b"}},
		peers: []string{"b", "c"},
	}, {
		name: "malformed and out-of-subnet entries are ignored",
		in: NetworkInput{Self: "a", Def: blue, Endpoints: []gossip.Entry{ep("b", 1, macB, "10.9.0.5"),
			{Key: "not a mac/10.0.0.5", Owner: "b"}, {Key: EndpointKey(macB, ip("10.0.0.7")), Owner: "b", Value: []byte("x")}}},
	}, {
		name: "static peers are members and their endpoints take part",
		in: NetworkInput{Self: "a", Def: blue, Members: []string{"b"}, Endpoints: []gossip.Entry{ep("b", 4, macB, "10.0.0.5")},
			Static: []routing.Endpoint{{MAC: macC, IP: ip("10.0.0.5"), Node: "kernel"}, {MAC: macA, IP: ip("10.0.0.9"), Node: "kernel"}}},
		eps:   []routing.Endpoint{{MAC: macC, IP: ip("10.0.0.5"), Node: "kernel"}, {MAC: macA, IP: ip("10.0.0.9"), Node: "kernel"}},
		dups:  []Duplicate{{Network: "blue", IP: "10.0.0.5", Winner: "kernel", Losers: []string{"b"}}},
		peers: []string{"b", "kernel"},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := Network(c.in)
			if !reflect.DeepEqual(st.Endpoints, c.eps) {
				t.Errorf("endpoints\n got %+v\nwant %+v", st.Endpoints, c.eps)
			}
			if !reflect.DeepEqual(st.Duplicates, c.dups) {
				t.Errorf("duplicates %+v, want %+v", st.Duplicates, c.dups)
			}
			if !reflect.DeepEqual(st.Members, c.peers) {
				t.Errorf("members %v, want %v", st.Members, c.peers)
			}
		})
	}
}

// Applied to a table, the state is what the forwarding snapshot shows.
func TestNetworkStateApply(t *testing.T) {
	tbl := routing.NewTable()
	st := NetworkState{Members: []string{"b"}, Endpoints: []routing.Endpoint{{MAC: macB, IP: netip.MustParseAddr("10.0.0.5"), Node: "b"}}}
	tbl.Update(func(tx *routing.Tx) {
		tx.SetNetwork(routing.NetworkConfig{Name: "blue", VNI: 10, Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}})
		tx.SetPeer(routing.PeerConfig{Name: "b", Underlay: netip.MustParseAddrPort("192.0.2.2:4789")})
		st.Apply(tx, 10)
	})
	mac, peer, ok := tbl.Snapshot().Network(10).LookupIP(netip.MustParseAddr("10.0.0.5"))
	if !ok || mac != macB || peer == nil || peer.Name != "b" {
		t.Fatalf("lookup after Apply: %v %v %v", mac, peer, ok)
	}
	if got := st.Addrs(); len(got) != 1 || got[0] != netip.MustParseAddr("10.0.0.5") {
		t.Fatalf("Addrs %v", got)
	}
}
