package dockerdriver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"meshnet.dev/meshnet/node/api"
)

// fakeDaemon is a small working meshnet daemon for network red: it hands
// out addresses after the node's own (10.30.115.1) and the MACs in macs,
// then made-up ones.
type fakeDaemon struct {
	mu   sync.Mutex
	next netip.Addr
	macs []string
	eps  []api.ContainerEndpoint
}

func newFakeDaemon(macs ...string) *fakeDaemon {
	return &fakeDaemon{next: netip.MustParseAddr("10.30.115.2"), macs: macs}
}

func (f *fakeDaemon) AddEndpoint(_ context.Context, network string, req api.EndpointRequest) (api.ContainerEndpoint, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if network != "red" {
		return api.ContainerEndpoint{}, errors.New("not attached")
	}
	mac := fmt.Sprintf("02:00:00:00:00:%02x", f.next.As4()[3])
	if len(f.macs) > 0 {
		mac, f.macs = f.macs[0], f.macs[1:]
	}
	ep := api.ContainerEndpoint{Network: network, ContainerID: req.ContainerID, IfName: req.IfName, MAC: mac,
		Address: netip.PrefixFrom(f.next, 16).String(), Gateway: "10.30.115.1", Bridge: "mb-red", MTU: 1370, Published: true}
	f.next = f.next.Next()
	f.eps = append(f.eps, ep)
	return ep, nil
}

func (f *fakeDaemon) RemoveEndpoint(_ context.Context, _, id, ifname string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, ep := range f.eps {
		if ep.ContainerID == id && ep.IfName == ifname {
			f.eps = append(f.eps[:i], f.eps[i+1:]...)
			return nil
		}
	}
	return nil
}

func (f *fakeDaemon) Endpoints(_ context.Context, network string) (api.NetworkEndpoints, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if network != "red" {
		return api.NetworkEndpoints{Network: network}, nil
	}
	return api.NetworkEndpoints{Network: network, Attached: true, Bridge: "mb-red", Subnet: "10.30.0.0/16",
		Gateway: "10.30.115.1", MTU: 1370, Containers: append([]api.ContainerEndpoint(nil), f.eps...)}, nil
}

// fakeVeths records veth pairs by host name.
type fakeVeths struct {
	mu    sync.Mutex
	pairs map[string]fakePair
}

type fakePair struct {
	peer, mac, bridge string
	mtu               int
}

func newFakeVeths() *fakeVeths { return &fakeVeths{pairs: map[string]fakePair{}} }

func (f *fakeVeths) Create(host, peer string, mac net.HardwareAddr, mtu int, bridge string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.pairs[host]; ok {
		return fmt.Errorf("%s exists", host)
	}
	f.pairs[host] = fakePair{peer: peer, mac: mac.String(), bridge: bridge, mtu: mtu}
	return nil
}

func (f *fakeVeths) Delete(host string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.pairs, host)
	return nil
}
