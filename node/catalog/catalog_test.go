package catalog

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/internal/packet"
	"meshnet.dev/meshnet/lb"
	"meshnet.dev/meshnet/node/api"
	"meshnet.dev/meshnet/node/control"
	"meshnet.dev/meshnet/node/internal/gossipfake"
	"meshnet.dev/meshnet/node/tables"
	"meshnet.dev/meshnet/routing"
)

// fakeLocal is node n1, attached to the networks in nets, with a
// forwarding table holding its endpoint 10.0.0.5 and n2's 10.0.0.6 on
// blue (VNI 10). onPoke runs at every poke.
type fakeLocal struct {
	nets     map[string]tables.NetDef
	services []lb.Service
	table    *routing.Table
	onPoke   func()
}

func (l *fakeLocal) Attached(name string) (tables.NetDef, bool) { d, ok := l.nets[name]; return d, ok }
func (l *fakeLocal) Services() []lb.Service                     { return l.services }
func (l *fakeLocal) Backends() []lb.Backend                     { return nil }
func (l *fakeLocal) Snapshot() *routing.Snapshot                { return l.table.Snapshot() }
func (l *fakeLocal) Poke() {
	if l.onPoke != nil {
		l.onPoke()
	}
}

var blue = tables.NetDef{Name: "blue", VNI: 10, Subnet: netip.MustParsePrefix("10.0.0.0/24"), Origin: "n1"}

func newCatalog(t *testing.T) (*Catalog, *fakeLocal, *gossipfake.Cluster) {
	t.Helper()
	net := gossipfake.NewCluster()
	tbl := routing.NewTable()
	tbl.Update(func(tx *routing.Tx) {
		tx.SetNetwork(routing.NetworkConfig{Name: "blue", VNI: 10, Subnets: []netip.Prefix{blue.Subnet}})
		tx.SetPeer(routing.PeerConfig{Name: "n2", Underlay: netip.MustParseAddrPort("192.0.2.2:4789")})
		tx.SetEndpoints(10, []routing.Endpoint{
			{MAC: packet.MAC{2, 0, 0, 0, 0, 5}, IP: netip.MustParseAddr("10.0.0.5")},
			{MAC: packet.MAC{2, 0, 0, 0, 0, 6}, IP: netip.MustParseAddr("10.0.0.6"), Node: "n2"},
		})
	})
	local := &fakeLocal{nets: map[string]tables.NetDef{}, table: tbl}
	c := New(Config{Self: "n1", Gossip: net.Node("n1", nil), Local: local})
	return c, local, net
}

// define publishes blue as n1 and attaches it.
func define(t *testing.T, c *Catalog, local *fakeLocal) {
	t.Helper()
	if _, err := c.CreateNetwork(api.CreateNetwork{Name: "blue", Subnet: "10.0.0.0/24", VNI: 10}); err != nil {
		t.Fatal(err)
	}
	local.nets["blue"] = blue
}

func TestCreateNetwork(t *testing.T) {
	c, local, net := newCatalog(t)
	cn, err := c.CreateNetwork(api.CreateNetwork{Name: "blue", Subnet: "10.0.0.0/24", VNI: 10})
	if err != nil || cn.Name != "blue" || cn.VNI != 10 || cn.Origin != "n1" {
		t.Fatalf("create: %+v %v", cn, err)
	}
	for _, req := range []api.CreateNetwork{
		{Name: "blue", Subnet: "10.1.0.0/24"},         // name taken
		{Name: "red", Subnet: "10.1.0.0/24", VNI: 10}, // VNI taken
	} {
		if _, err := c.CreateNetwork(req); !errors.Is(err, control.ErrConflict) {
			t.Errorf("%+v: %v, want a conflict", req, err)
		}
	}
	for _, req := range []api.CreateNetwork{{Name: "Red", Subnet: "10.1.0.0/24"}, {Name: "red", Subnet: "10.1.0.1/24"}, {Name: "red", Subnet: "10.1.0.0/24", VNI: 1 << 24}} {
		if _, err := c.CreateNetwork(req); err == nil || errors.Is(err, control.ErrConflict) {
			t.Errorf("%+v: %v, want it refused as malformed", req, err)
		}
	}
	// A definition another node made earlier arrives while ours settles.
	earlier := tables.NetDef{Name: "green", VNI: 12, Subnet: netip.MustParsePrefix("10.2.0.0/24"), Origin: "n0", OriginLTime: 1}
	local.onPoke = func() {
		b, _ := earlier.Encode()
		net.Node("n0", nil).Put(gossip.ClusterScope, tables.Networks, "green", b)
	}
	_, err = c.CreateNetwork(api.CreateNetwork{Name: "green", Subnet: "10.3.0.0/24"})
	if !errors.Is(err, control.ErrConflict) || !strings.Contains(err.Error(), "defined at the same time by n0") {
		t.Fatalf("concurrent definition: %v", err)
	}
}

func TestListNetworks(t *testing.T) {
	c, local, net := newCatalog(t)
	define(t, c, local)
	net.SetMember(gossip.Member{Name: "n2", State: gossip.StateAlive, Networks: []string{"blue"}})
	net.SetMember(gossip.Member{Name: "n3", State: gossip.StateFailed, Networks: []string{"blue"}})
	got := c.ListNetworks()
	if len(got) != 1 || !got[0].Attached || got[0].Endpoints != 2 || strings.Join(got[0].Members, ",") != "n2" {
		t.Fatalf("networks %+v: want blue attached, 2 endpoints, only the live member", got)
	}
}

func TestServices(t *testing.T) {
	c, local, _ := newCatalog(t)
	if _, err := c.CreateService(api.CreateService{Name: "web", Network: "blue", Ports: "80/tcp"}); err == nil {
		t.Fatal("a service on a network this node is not on")
	}
	define(t, c, local)
	s, err := c.CreateService(api.CreateService{Name: "web", Network: "blue", Ports: "80/tcp"})
	if err != nil || s.VIP != "10.0.0.254" || s.Origin != "n1" {
		t.Fatalf("web: %+v %v, want the subnet's top address as VIP", s, err)
	}
	local.services = []lb.Service{{Name: "web", VIP: netip.MustParseAddr("10.0.0.254")}}
	if _, err := c.CreateService(api.CreateService{Name: "web", Network: "blue", Ports: "81/tcp"}); !errors.Is(err, control.ErrConflict) {
		t.Fatalf("second web: %v", err)
	}
	if s, err := c.CreateService(api.CreateService{Name: "db", Network: "blue", Ports: "5432/tcp"}); err != nil || s.VIP != "10.0.0.253" {
		t.Fatalf("db: %+v %v, want the next free address", s, err)
	}
	if _, err := c.CreateService(api.CreateService{Name: "mail", Network: "blue", Ports: "25/tcp", VIP: "10.0.0.6"}); err == nil {
		t.Fatal("a VIP an endpoint holds")
	}
	if err := c.RemoveService("web"); err != nil {
		t.Fatal(err)
	}
	nets, _ := c.Defs()
	if _, ok := c.ServiceSet(nets).Won["web"]; ok {
		t.Fatal("web still live after its removal")
	}
	if err := c.RemoveService("web"); err == nil {
		t.Fatal("removed twice")
	}
}

func TestBackendsOnlyBehindThisNode(t *testing.T) {
	c, local, net := newCatalog(t)
	define(t, c, local)
	if _, err := c.CreateService(api.CreateService{Name: "web", Network: "blue", Ports: "80/tcp"}); err != nil {
		t.Fatal(err)
	}
	if err := c.AddBackend("web", "10.0.0.6:80"); err == nil {
		t.Fatal("registered a backend of another node")
	}
	if err := c.AddBackend("web", "10.0.0.5:80"); err != nil {
		t.Fatal(err)
	}
	n1 := net.Node("n1", nil)
	if e := n1.Lookup("blue", tables.Backends, "web/10.0.0.5:80"); len(e) != 1 || e[0].Owner != "n1" {
		t.Fatalf("backend entry %+v", e)
	}
	if err := c.RemoveBackend("web", "10.0.0.5:80"); err != nil {
		t.Fatal(err)
	}
	if e := n1.Lookup("blue", tables.Backends, "web/10.0.0.5:80"); len(e) != 0 {
		t.Fatalf("backend entry after removal %+v", e)
	}
	if err := c.AddBackend("nosuch", "10.0.0.5:80"); err == nil {
		t.Fatal("a backend of no service")
	}
}
