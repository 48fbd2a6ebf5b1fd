package cni

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	current "github.com/containernetworking/cni/pkg/types/100"

	"meshnet.dev/meshnet/node/api"
)

// fakeDaemon is a small working daemon: it allocates addresses from
// 10.9.0.2 up and keeps endpoints in a map; down makes every call fail as
// a daemon that is not running does.
type fakeDaemon struct {
	mu       sync.Mutex
	down     bool
	attached bool
	eps      map[[2]string]api.ContainerEndpoint
	unpub    bool // endpoints are not (yet) in the forwarding table
	next     netip.Addr
	removed  int
}

func newFakeDaemon() *fakeDaemon {
	return &fakeDaemon{attached: true, eps: map[[2]string]api.ContainerEndpoint{}, next: netip.MustParseAddr("10.9.0.2")}
}

var errDown = fmt.Errorf("%w on /fake.sock", api.ErrNoDaemon)

func (f *fakeDaemon) Status(context.Context) (*api.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errDown
	}
	return &api.Status{}, nil
}

func (f *fakeDaemon) AddEndpoint(_ context.Context, network string, req api.EndpointRequest) (api.ContainerEndpoint, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return api.ContainerEndpoint{}, errDown
	}
	if !f.attached {
		return api.ContainerEndpoint{}, errors.New("not attached")
	}
	k := [2]string{req.ContainerID, req.IfName}
	if ep, ok := f.eps[k]; ok {
		return ep, nil
	}
	ep := api.ContainerEndpoint{Network: network, ContainerID: req.ContainerID, IfName: req.IfName,
		MAC: fmt.Sprintf("02:00:00:00:00:%02x", f.next.As4()[3]), Address: netip.PrefixFrom(f.next, 24).String(),
		Gateway: "10.9.0.1", Bridge: "mb-red", MTU: 1370}
	f.next = f.next.Next()
	f.eps[k] = ep
	return ep, nil
}

func (f *fakeDaemon) RemoveEndpoint(_ context.Context, _, id, ifname string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errDown
	}
	if _, ok := f.eps[[2]string{id, ifname}]; ok {
		f.removed++
	}
	delete(f.eps, [2]string{id, ifname})
	return nil
}

func (f *fakeDaemon) Endpoints(_ context.Context, network string) (api.NetworkEndpoints, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return api.NetworkEndpoints{}, errDown
	}
	out := api.NetworkEndpoints{Network: network, Attached: f.attached}
	if f.attached {
		out.Bridge = "mb-red"
	}
	for _, ep := range f.eps {
		ep.Published = !f.unpub
		out.Containers = append(out.Containers, ep)
	}
	return out, nil
}

// fakeLinks records interfaces as "netns/ifname" with their MAC and
// address; fail makes Setup fail.
type fakeLinks struct {
	mu    sync.Mutex
	ifs   map[string]fakeIf
	fail  error
	calls []string
}

type fakeIf struct {
	mac    string
	addr   netip.Prefix
	host   string
	bridge string
	mtu    int
}

func newFakeLinks() *fakeLinks { return &fakeLinks{ifs: map[string]fakeIf{}} }

func (f *fakeLinks) Setup(netns, ifname, host string, mac net.HardwareAddr, mtu int, bridge string, res *current.Result) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "setup "+netns+"/"+ifname)
	if f.fail != nil {
		return f.fail
	}
	a, _ := netip.AddrFromSlice(res.IPs[0].Address.IP)
	ones, _ := res.IPs[0].Address.Mask.Size()
	f.ifs[netns+"/"+ifname] = fakeIf{mac: mac.String(), addr: netip.PrefixFrom(a.Unmap(), ones), host: host, bridge: bridge, mtu: mtu}
	return nil
}

func (f *fakeLinks) Teardown(netns, ifname string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "teardown "+netns+"/"+ifname)
	delete(f.ifs, netns+"/"+ifname)
	return nil
}

func (f *fakeLinks) Check(netns, ifname string, mac net.HardwareAddr, addr netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.ifs[netns+"/"+ifname]
	switch {
	case !ok:
		return fmt.Errorf("no interface %s", ifname)
	case i.mac != mac.String():
		return fmt.Errorf("MAC %s, want %s", i.mac, mac)
	case i.addr != addr:
		return fmt.Errorf("address %s, want %s", i.addr, addr)
	}
	return nil
}
