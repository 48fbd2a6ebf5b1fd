package node

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/gossip/memnet"
	"meshnet.dev/meshnet/node/api"
	"meshnet.dev/meshnet/node/config"
)

// TestContainerEndpointPublishedAndWithdrawn adds a container endpoint on
// one node through the control API's operations and checks the other node
// routes its address to the first, then that withdrawing it (twice, and
// an unknown one) removes it everywhere.
func TestContainerEndpointPublishedAndWithdrawn(t *testing.T) {
	cl := bridgeCluster(t)
	h1, h2 := cl.hosts[0], cl.hosts[1]
	if _, err := h2.node.AddEndpoint(context.Background(), "blue", api.EndpointRequest{ContainerID: "c1", IfName: "eth0"}); err == nil {
		t.Fatal("host2 has no bridge on blue, yet allocated an endpoint")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ep, err := h1.node.AddEndpoint(ctx, "blue", api.EndpointRequest{ContainerID: "c1", IfName: "eth0"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := h1.node.AddEndpoint(ctx, "blue", api.EndpointRequest{ContainerID: "c1", IfName: "eth0"})
	if err != nil || again.Address != ep.Address || again.MAC != ep.MAC {
		t.Fatalf("a retried ADD got %+v (%v), first %+v", again, err, ep)
	}
	other, err := h1.node.AddEndpoint(ctx, "blue", api.EndpointRequest{ContainerID: "c2", IfName: "eth0"})
	if err != nil || other.Address == ep.Address {
		t.Fatalf("second container got %+v (%v), first %+v", other, err, ep)
	}
	if ep.Bridge != "mb-blue" || ep.Gateway == "" || ep.MTU == 0 {
		t.Fatalf("endpoint %+v lacks bridge, gateway or MTU", ep)
	}
	ip := netip.MustParsePrefix(ep.Address).Addr()
	seenAt := func(h *fakeHost) (string, bool) {
		eps, err := h.node.Endpoints("blue")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range eps.Endpoints {
			if e.IP == ip.String() {
				return e.Node, true
			}
		}
		return "", false
	}
	poll(t, 10*time.Second, "host2 routing the container's address to host1", func() bool {
		n, ok := seenAt(h2)
		return ok && n == "host1"
	})
	vni := h2.node.current().nets[0].def.VNI
	if mac, _, ok := h2.node.table.Snapshot().Network(vni).LookupIP(ip); !ok || config.FormatMAC(mac) != ep.MAC {
		t.Fatalf("host2 resolves %s to %v (ok %v), want %s", ip, mac, ok, ep.MAC)
	}
	for range 2 {
		if err := h1.node.RemoveEndpoint("blue", "c1", "eth0"); err != nil {
			t.Fatal(err)
		}
	}
	if err := h1.node.RemoveEndpoint("blue", "unknown", "eth0"); err != nil {
		t.Fatal(err)
	}
	poll(t, 10*time.Second, "the container's address gone from both nodes", func() bool {
		_, on1 := seenAt(h1)
		_, on2 := seenAt(h2)
		return !on1 && !on2
	})
	eps, _ := h1.node.Endpoints("blue")
	if len(eps.Containers) != 1 || eps.Containers[0].ContainerID != "c2" {
		t.Fatalf("host1's containers after withdrawing c1: %+v", eps.Containers)
	}
}

// bridgeCluster is two in-process nodes; the first has a bridge on blue,
// and blue is a /16, so each node's block has room for containers.
func bridgeCluster(t *testing.T) *fakeCluster {
	c := &fakeCluster{t: t, gossip: memnet.New(1), vxlan: encap.NewChannelNetwork(), configure: func(cfg *config.Config) {
		if cfg.Name == "host1" {
			cfg.Networks[0].Bridge = "mb-blue"
			cfg.Networks[0].Subnet = "10.50.0.0/16"
		}
	}}
	c.start("host1")
	c.start("host2")
	c.converged()
	return c
}
