package control

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"time"

	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/node/api"
	"meshnet.dev/meshnet/node/config"
	"meshnet.dev/meshnet/node/tables"
	"meshnet.dev/meshnet/routing"
)

// fakeNode is a control.Node with a fixed state: node n1 on network blue
// (10.0.0.0/24) at 10.0.0.1, with peer n2 at 10.0.0.2; its operations
// record their calls and return err.
type fakeNode struct {
	state State
	err   error

	mu    sync.Mutex
	calls []string
}

func newFakeNode() *fakeNode {
	blue := tables.NetDef{Name: "blue", VNI: 10, Subnet: netip.MustParsePrefix("10.0.0.0/24"), Origin: "n1"}
	tbl := routing.NewTable()
	tbl.Update(func(tx *routing.Tx) {
		tx.SetNetwork(routing.NetworkConfig{Name: "blue", VNI: 10, Subnets: []netip.Prefix{blue.Subnet}})
		tx.SetPeer(routing.PeerConfig{Name: "n2", Underlay: netip.MustParseAddrPort("192.0.2.2:4789")})
		tx.SetMembers(10, []string{"n2"})
		tx.SetEndpoints(10, []routing.Endpoint{
			{MAC: config.InterfaceMAC("n1", "blue"), IP: netip.MustParseAddr("10.0.0.1")},
			{MAC: config.InterfaceMAC("n2", "blue"), IP: netip.MustParseAddr("10.0.0.2"), Node: "n2"},
		})
	})
	meta := tables.Meta{VXLAN: netip.MustParseAddrPort("127.0.0.2:4789"), Epoch: 3} // loopback: the doctor probes it
	return &fakeNode{state: State{
		Ready: true, Name: "n1", Mode: "userspace", Underlay: netip.MustParseAddrPort("192.0.2.1:4789"), GossipPort: 7946,
		Started:  time.Now().Add(-time.Minute),
		Networks: []Network{{Def: blue, Device: "netstack-blue", MTU: 1400, Addr: netip.MustParseAddr("10.0.0.1"), Stats: &routing.PortStats{}}},
		Table:    tbl.Snapshot(),
		Members: []Member{
			{Member: gossip.Member{Name: "n2", State: gossip.StateAlive, Networks: []string{"blue"}}, Meta: meta, RTT: 1500 * time.Microsecond},
			{Member: gossip.Member{Name: "n3", State: gossip.StateFailed}, MetaErr: errors.New("garbled")},
		},
		Report: Report{Conflicts: []string{"network red conflicts"}, Waiting: []string{"green"},
			Duplicates: []tables.Duplicate{{Network: "blue", IP: "10.0.0.9", Winner: "n2", Losers: []string{"n3"}}}},
		Keys: api.Keys{Epoch: 3},
	}}
}

func (f *fakeNode) record(call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	return f.err
}

func (f *fakeNode) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeNode) State() State { return f.state }
func (f *fakeNode) ProbePeer([32]byte, time.Duration) (time.Duration, error) {
	return 0, errors.New("no WireGuard here")
}
func (f *fakeNode) RouteMTU(netip.Addr) int { return 1500 }
func (f *fakeNode) Shutdown()               { f.record("shutdown") }
func (f *fakeNode) Networks() []api.ClusterNetwork {
	return []api.ClusterNetwork{{NetworkDef: api.NetworkDef{Name: "blue", VNI: 10}}}
}
func (f *fakeNode) CreateNetwork(r api.CreateNetwork) (api.ClusterNetwork, error) {
	return api.ClusterNetwork{NetworkDef: api.NetworkDef{Name: r.Name}}, f.record("create network " + r.Name)
}
func (f *fakeNode) JoinNetwork(name string, _ api.JoinNetwork) error { return f.record("join " + name) }
func (f *fakeNode) LeaveNetwork(name string) error                   { return f.record("leave " + name) }
func (f *fakeNode) Services() []api.Service                          { return nil }
func (f *fakeNode) CreateService(r api.CreateService) (api.Service, error) {
	return api.Service{Name: r.Name}, f.record("create service " + r.Name)
}
func (f *fakeNode) RemoveService(name string) error { return f.record("remove service " + name) }
func (f *fakeNode) AddBackend(service, addr string) error {
	return f.record("add backend " + service + " " + addr)
}
func (f *fakeNode) RemoveBackend(service, addr string) error {
	return f.record("remove backend " + service + " " + addr)
}
func (f *fakeNode) IssueToken(ttl time.Duration) (api.Token, error) {
	return api.Token{Token: "t"}, f.record("token " + ttl.String())
}
func (f *fakeNode) RotateKeys(nodeKey bool) error {
	if nodeKey {
		return f.record("rotate node key")
	}
	return f.record("rotate keys")
}
func (f *fakeNode) Evict(name string) error { return f.record("evict " + name) }

func (f *fakeNode) AddEndpoint(_ context.Context, network string, r api.EndpointRequest) (api.ContainerEndpoint, error) {
	return api.ContainerEndpoint{Network: network, ContainerID: r.ContainerID, IfName: r.IfName}, f.record("add endpoint " + network + " " + r.ContainerID + " " + r.IfName)
}
func (f *fakeNode) RemoveEndpoint(network, id, ifname string) error {
	return f.record("remove endpoint " + network + " " + id + " " + ifname)
}
func (f *fakeNode) Endpoints(network string) (api.NetworkEndpoints, error) {
	return api.NetworkEndpoints{Network: network}, f.record("endpoints " + network)
}
