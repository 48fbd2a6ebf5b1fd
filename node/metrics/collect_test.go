package metrics

import (
	"net/netip"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/lb"
	"meshnet.dev/meshnet/node/api"
)

// fakeSource is a node with one network, one peer and two backends.
type fakeSource struct{ ready bool }

func (f fakeSource) Status() (api.Status, bool) {
	return api.Status{
		Networks: []api.Network{{NetworkDef: api.NetworkDef{Name: "blue"}, Counters: api.Counters{TxPackets: 7, Drops: map[string]uint64{"unknown-unicast": 2}}}},
		Peers:    []api.Peer{{Name: "n2", State: "alive", RTTMillis: 2}},
		Keys:     api.Keys{Epoch: 4},
	}, f.ready
}
func (fakeSource) Gossip() gossip.Stats {
	return gossip.Stats{Dropped: map[string]uint64{"undecryptable": 3}}
}
func (fakeSource) Balancer() lb.Stats       { return lb.Stats{Flows: 5} }
func (fakeSource) DNS() (lb.DNSStats, bool) { return lb.DNSStats{Local: 9}, true }
func (fakeSource) Backends() []lb.Backend {
	a := netip.MustParseAddrPort("10.0.0.5:80")
	return []lb.Backend{{Service: "web", Addr: a, Healthy: true}, {Service: "web", Addr: a, Healthy: false}}
}

// gather scrapes a registry holding only the node's collector.
func gather(t *testing.T, src Source) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{src: src, d: newDescs()})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			out[key] = v
		}
	}
	return out
}

func TestCollectReadsTheSource(t *testing.T) {
	got := gather(t, fakeSource{ready: true})
	for key, want := range map[string]float64{
		"meshnet_network_packets_total,direction=tx,network=blue":         7,
		"meshnet_network_drops_total,network=blue,reason=unknown-unicast": 2,
		"meshnet_peer_rtt_seconds,peer=n2":                                0.002,
		"meshnet_cluster_members,state=alive":                             2, // this node and n2
		"meshnet_gossip_dropped_total,reason=undecryptable":               3,
		"meshnet_key_epoch":                                               4,
		"meshnet_conntrack_flows":                                         5,
		"meshnet_dns_queries_total,outcome=local":                         9,
		"meshnet_service_backends,healthy=true,service=web":               1,
		"meshnet_service_backends,healthy=false,service=web":              1,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
	if len(gather(t, fakeSource{ready: false})) != 0 {
		t.Error("a starting node exports series")
	}
}
