package node

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/gossip/memnet"
	"meshnet.dev/meshnet/node/api"
	"meshnet.dev/meshnet/node/config"
)

// A static peer in one node's config reaches every member by gossip: each
// routes its endpoint to it and answers for it. A reload that would make
// the peer clash with a member changes nothing; a reload without the peer
// removes it, and its endpoint, from every member.
func TestStaticPeerTravelsByGossip(t *testing.T) {
	kernel := config.PeerConfig{Name: "kernel", Address: "192.0.2.99",
		Endpoints: []config.EndpointConfig{{Network: "blue", IP: "10.50.0.200"}}}
	c := &fakeCluster{t: t, gossip: memnet.New(1), vxlan: encap.NewChannelNetwork()}
	c.configure = func(cfg *config.Config) {
		if cfg.Name == "host1" {
			cfg.Peers = []config.PeerConfig{kernel}
		}
	}
	c.start("host1")
	c.start("host2")
	ip := netip.MustParseAddr("10.50.0.200")
	routed := func(h *fakeHost) bool {
		net := h.node.table.Snapshot().Network(h.node.current().nets[0].def.VNI)
		if net == nil {
			return false
		}
		_, peer, ok := net.LookupIP(ip)
		return ok && peer != nil && peer.Name == "kernel" && peer.Underlay == netip.MustParseAddrPort("192.0.2.99:4789")
	}
	for _, h := range c.hosts {
		poll(t, 20*time.Second, h.name+" routing 10.50.0.200 to the static peer", func() bool {
			return len(h.node.current().nets) == 1 && routed(h)
		})
	}
	peers := c.hosts[1].node.Status().Peers
	i := slices.IndexFunc(peers, func(p api.Peer) bool { return p.Name == "kernel" })
	if i < 0 || peers[i].State != "static" || !slices.Equal(peers[i].Sponsors, []string{"host1"}) {
		t.Fatalf("host2's peers: %+v", peers)
	}

	host1 := c.hosts[0]
	clash := host1.cfg
	clash.Peers = []config.PeerConfig{kernel, {Name: "host2", Address: "192.0.2.98"}}
	err := host1.node.Reload(clash)
	if err == nil || !strings.Contains(err.Error(), `peers[1].name "host2": a cluster member has this name`) {
		t.Fatalf("a reload with a peer named like a member: %v", err)
	}
	if got := host1.node.static.get(); len(got) != 1 || got[0].Name != "kernel" {
		t.Fatalf("the refused reload changed the static peers: %+v", got)
	}

	gone := host1.cfg
	gone.Peers = nil
	if err := host1.node.Reload(gone); err != nil {
		t.Fatal(err)
	}
	for _, h := range c.hosts {
		poll(t, 10*time.Second, h.name+" forgetting the static peer", func() bool {
			return !routed(h) && h.node.table.Snapshot().Peer("kernel") == nil
		})
	}
}
