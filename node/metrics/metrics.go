package metrics

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/lb"
	"meshnet.dev/meshnet/node/api"
)

// Source is what the metrics read at each scrape; the node implements it.
// Every method must be safe to call from the metrics server's goroutines.
type Source interface {
	// Status is what `meshnet status` shows; false while the node starts.
	Status() (api.Status, bool)
	Gossip() gossip.Stats
	Balancer() lb.Stats
	// DNS is the DNS server's counters; false when it is not running.
	DNS() (lb.DNSStats, bool)
	Backends() []lb.Backend
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("meshnet_"+name, help, labels, nil)
}

// descs are the metrics the node exports.
type descs struct {
	netPackets, netBytes, netReplies, netBUM, netDrops, drops, endpoints, members *prometheus.Desc
	peerPackets, peerBytes, peerWGBytes, peerHS, peerRTT, clusterNodes            *prometheus.Desc
	gossipMsgs, gossipBytes, gossipWire, gossipDrops, gossipEnts                  *prometheus.Desc
	keyEpoch, keyRejected, evicted                                                *prometheus.Desc
	ctFlows, ctEvict, lbNAT, lbDrops, backends, dns                               *prometheus.Desc
}

func newDescs() *descs {
	return &descs{
		netPackets:   desc("network_packets_total", "Frames moved between the device and peers.", "network", "direction"),
		netBytes:     desc("network_bytes_total", "Bytes of frames moved between the device and peers.", "network", "direction"),
		netReplies:   desc("network_local_replies_total", "ARP and neighbour solicitations answered locally.", "network", "kind"),
		netBUM:       desc("network_replicated_total", "Broadcast and multicast frames replicated to members.", "network"),
		netDrops:     desc("network_drops_total", "Frames dropped on a network, by reason.", "network", "reason"),
		drops:        desc("drops_total", "Packets dropped before reaching a network, by reason.", "reason"),
		endpoints:    desc("network_endpoints", "Endpoints in the forwarding table.", "network"),
		members:      desc("network_members", "Nodes attached to the network, this one included.", "network"),
		peerPackets:  desc("peer_packets_total", "Frames exchanged with a peer.", "peer", "direction"),
		peerBytes:    desc("peer_bytes_total", "Bytes of frames exchanged with a peer.", "peer", "direction"),
		peerWGBytes:  desc("peer_wireguard_bytes_total", "WireGuard bytes exchanged with a peer.", "peer", "direction"),
		peerHS:       desc("peer_last_handshake_seconds", "Unix time of the last WireGuard handshake with a peer.", "peer"),
		peerRTT:      desc("peer_rtt_seconds", "Estimated round-trip time to a peer (network coordinates).", "peer"),
		clusterNodes: desc("cluster_members", "Cluster members by state.", "state"),
		gossipMsgs:   desc("gossip_messages_total", "Gossip messages by type.", "type", "direction"),
		gossipBytes:  desc("gossip_payload_bytes_total", "Gossip payload bytes by message type.", "type", "direction"),
		gossipWire:   desc("gossip_wire_bytes_total", "All control-plane bytes on the wire, probes included.", "direction"),
		gossipDrops:  desc("gossip_dropped_total", "Gossip input dropped, by reason.", "reason"),
		gossipEnts:   desc("gossip_entries", "Replicated entries held per network (the cluster scope is \"\").", "network"),
		keyEpoch:     desc("key_epoch", "The data-key epoch this node has applied."),
		keyRejected:  desc("key_records_rejected_total", "Key grants and evictions this node refused."),
		evicted:      desc("evicted_nodes", "Nodes on this node's eviction list."),
		ctFlows:      desc("conntrack_flows", "Load-balanced flows tracked."),
		ctEvict:      desc("conntrack_evictions_total", "Tracked flows evicted because the table was full."),
		lbNAT:        desc("lb_translated_total", "Frames translated by the load balancer.", "direction"),
		lbDrops:      desc("lb_drops_total", "Frames the load balancer dropped, by reason.", "reason"),
		backends:     desc("service_backends", "Service backends by health.", "service", "healthy"),
		dns:          desc("dns_queries_total", "DNS queries by outcome.", "outcome"),
	}
}

// collector is the node's prometheus.Collector.
type collector struct {
	src Source
	d   *descs
}

// Describe sends every descriptor: the set of series varies with the
// cluster, but the metrics themselves do not.
func (c collector) Describe(ch chan<- *prometheus.Desc) { c.describeAll(ch) }

func (c collector) describeAll(ch chan<- *prometheus.Desc) {
	d := c.d
	for _, x := range []*prometheus.Desc{d.netPackets, d.netBytes, d.netReplies, d.netBUM, d.netDrops, d.drops, d.endpoints,
		d.members, d.peerPackets, d.peerBytes, d.peerWGBytes, d.peerHS, d.peerRTT, d.clusterNodes, d.gossipMsgs,
		d.gossipBytes, d.gossipWire, d.gossipDrops, d.gossipEnts, d.keyEpoch, d.keyRejected, d.evicted, d.ctFlows,
		d.ctEvict, d.lbNAT, d.lbDrops, d.backends, d.dns} {
		ch <- x
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	src, d := c.src, c.d
	st, ok := src.Status()
	if !ok {
		return
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, nw := range st.Networks {
		k := nw.Counters
		counter(d.netPackets, k.TxPackets, nw.Name, "tx")
		counter(d.netPackets, k.RxPackets, nw.Name, "rx")
		counter(d.netBytes, k.TxBytes, nw.Name, "tx")
		counter(d.netBytes, k.RxBytes, nw.Name, "rx")
		counter(d.netReplies, k.ARPReplies, nw.Name, "arp")
		counter(d.netReplies, k.NDReplies, nw.Name, "nd")
		counter(d.netBUM, k.Replicated, nw.Name)
		for r, v := range k.Drops {
			counter(d.netDrops, v, nw.Name, r)
		}
		gauge(d.endpoints, float64(len(nw.Endpoints)), nw.Name)
		gauge(d.members, float64(len(nw.Members)), nw.Name)
	}
	for r, v := range st.Drops {
		counter(d.drops, v, r)
	}
	states := map[string]int{"alive": 1} // this node
	for _, p := range st.Peers {
		states[p.State]++
		counter(d.peerPackets, p.TxPackets, p.Name, "tx")
		counter(d.peerPackets, p.RxPackets, p.Name, "rx")
		counter(d.peerBytes, p.TxBytes, p.Name, "tx")
		counter(d.peerBytes, p.RxBytes, p.Name, "rx")
		if p.PublicKey != "" {
			counter(d.peerWGBytes, p.WGTxBytes, p.Name, "tx")
			counter(d.peerWGBytes, p.WGRxBytes, p.Name, "rx")
		}
		if !p.LastHandshake.IsZero() {
			gauge(d.peerHS, float64(p.LastHandshake.UnixNano())/1e9, p.Name)
		}
		if p.RTTMillis > 0 {
			gauge(d.peerRTT, p.RTTMillis/1000, p.Name)
		}
	}
	for s, k := range states {
		gauge(d.clusterNodes, float64(k), s)
	}
	c.collectGossip(src.Gossip(), counter, gauge)
	gauge(d.keyEpoch, float64(st.Keys.Epoch))
	counter(d.keyRejected, st.Keys.Rejected)
	gauge(d.evicted, float64(st.Keys.Evicted))
	c.collectLB(src.Balancer(), counter, gauge)
	if q, ok := src.DNS(); ok {
		for outcome, v := range map[string]uint64{"local": q.Local, "forwarded": q.Forwarded, "forward_failed": q.ForwardFailed,
			"refused": q.Refused, "formerr": q.FormErr, "dropped": q.Dropped} {
			counter(d.dns, v, outcome)
		}
	}
	health := map[[2]string]int{}
	for _, b := range src.Backends() {
		health[[2]string{b.Service, boolLabel(b.Healthy)}]++
	}
	for k, v := range health {
		gauge(d.backends, float64(v), k[0], k[1])
	}
}

type (
	counterFn func(*prometheus.Desc, uint64, ...string)
	gaugeFn   func(*prometheus.Desc, float64, ...string)
)

func (c collector) collectGossip(gs gossip.Stats, counter counterFn, gauge gaugeFn) {
	d := c.d
	for typ, tr := range gs.Sent {
		counter(d.gossipMsgs, tr.Messages, typ, "tx")
		counter(d.gossipBytes, tr.Bytes, typ, "tx")
	}
	for typ, tr := range gs.Received {
		counter(d.gossipMsgs, tr.Messages, typ, "rx")
		counter(d.gossipBytes, tr.Bytes, typ, "rx")
	}
	counter(d.gossipWire, gs.Transport.BytesSent(), "tx")
	counter(d.gossipWire, gs.Transport.BytesReceived(), "rx")
	for r, v := range gs.Dropped {
		counter(d.gossipDrops, v, r)
	}
	for nw, k := range gs.Entries {
		gauge(d.gossipEnts, float64(k), nw)
	}
}

func (c collector) collectLB(s lb.Stats, counter counterFn, gauge gaugeFn) {
	d := c.d
	gauge(d.ctFlows, float64(s.Flows))
	counter(d.ctEvict, s.Evictions)
	counter(d.lbNAT, s.DNATed, "to_backend")
	counter(d.lbNAT, s.SNATed, "to_client")
	for i, v := range s.Drops {
		if v > 0 {
			counter(d.lbDrops, v, strings.ToLower(lb.DropReason(i).String()))
		}
	}
}

func boolLabel(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// Server serves /metrics on the configured address.
type Server struct {
	srv  *http.Server
	addr net.Addr
	done chan struct{}
}

// Serve serves src's metrics, and the Go runtime's and the process's, on
// addr from a registry of its own (no global state). It starts the
// server's goroutine; Stop ends it.
func Serve(addr string, src Source, log *slog.Logger) (*Server, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{src: src, d: newDescs()}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, errors.Join(errors.New("metrics: cannot listen on "+addr+" (set metrics.address)"), err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	m := &Server{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, addr: ln.Addr(), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	log.Info("metrics serving", "address", ln.Addr().String())
	return m, nil
}

// Addr is the address the server listens on.
func (m *Server) Addr() net.Addr { return m.addr }

// Stop stops the server and waits for its goroutine.
func (m *Server) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	m.srv.Shutdown(ctx)
	<-m.done
}
