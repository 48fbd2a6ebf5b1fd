package e2e

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"meshnet.dev/meshnet/e2e/netlab"
)

// scrape fetches a daemon's metrics and returns the samples by series.
func scrape(t *testing.T, h *netlab.Host, addr string) map[string]float64 {
	t.Helper()
	out, err := h.Run(bin.xfer, "fetch", "-url", "http://"+addr+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	samples := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "#") || l == "" {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err == nil {
			samples[l[:i]] = v
		}
	}
	return samples
}

func TestMetricsAfterTraffic(t *testing.T) {
	_, hosts := newLab(t, 2)
	nets := [][]string{{"red"}, {"red"}}
	ms := startCluster(t, hosts, nets, clusterOpts{encrypted: true, metrics: "127.0.0.1:9431"})
	addrs := waitAttached(t, ms, nets)
	waitEndpoints(t, ms, "red", 2)
	before := scrape(t, hosts[0], "127.0.0.1:9431")
	const pings = 20
	ping(t, hosts[0], addrs[hosts[1].Name]["red"], pings)
	sent, _ := transfer(t, hosts[0], hosts[1], addrs[hosts[1].Name]["red"].String(), 20<<20)
	after := scrape(t, hosts[0], "127.0.0.1:9431")
	delta := func(series string) float64 { return after[series] - before[series] }

	tx := delta(`meshnet_network_packets_total{direction="tx",network="red"}`)
	txBytes := delta(`meshnet_network_bytes_total{direction="tx",network="red"}`)
	peerTx := delta(fmt.Sprintf(`meshnet_peer_bytes_total{direction="tx",peer="%s"}`, hosts[1].Name))
	wgTx := delta(fmt.Sprintf(`meshnet_peer_wireguard_bytes_total{direction="tx",peer="%s"}`, hosts[1].Name))
	if tx < pings || txBytes < float64(sent.Bytes) || peerTx < float64(sent.Bytes) || wgTx < float64(sent.Bytes) {
		t.Fatalf("after %d pings and %d bytes: tx packets +%.0f, tx bytes +%.0f, to the peer +%.0f, over WireGuard +%.0f",
			pings, sent.Bytes, tx, txBytes, peerTx, wgTx)
	}
	if txBytes > 2*float64(sent.Bytes) {
		t.Fatalf("tx bytes +%.0f is far more than the %d sent", txBytes, sent.Bytes)
	}
	for _, series := range []string{
		`meshnet_cluster_members{state="alive"}`, `meshnet_key_epoch`, `meshnet_network_endpoints{network="red"}`,
		`meshnet_gossip_wire_bytes_total{direction="tx"}`, `process_resident_memory_bytes`, `go_goroutines`,
		fmt.Sprintf(`meshnet_peer_last_handshake_seconds{peer="%s"}`, hosts[1].Name),
	} {
		if after[series] <= 0 {
			t.Errorf("%s = %v", series, after[series])
		}
	}
	if after[`meshnet_cluster_members{state="alive"}`] != 2 {
		t.Errorf("alive members %v", after[`meshnet_cluster_members{state="alive"}`])
	}
}

func TestRestartKeepsAddressAndIdentity(t *testing.T) {
	_, hosts := newLab(t, 2)
	nets := [][]string{{"red"}, {"red"}}
	ms := startCluster(t, hosts, nets, clusterOpts{encrypted: true})
	addrs := waitAttached(t, ms, nets)
	waitEndpoints(t, ms, "red", 2)
	before, err := ms[1].Status()
	if err != nil {
		t.Fatal(err)
	}
	ms[1].Proc.Signal(syscall.SIGTERM)
	if err := ms[1].Proc.Wait(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := ms[1].Start(); err != nil {
		t.Fatal(err)
	}
	after, err := ms[1].WaitNetworks(60*time.Second, "red")
	if err != nil {
		t.Fatal(err)
	}
	if after.Keys.PublicKey != before.Keys.PublicKey {
		t.Fatal("the node's identity changed across a restart")
	}
	if after.Networks[0].Address != before.Networks[0].Address {
		t.Fatalf("address changed across a restart: %s → %s", before.Networks[0].Address, after.Networks[0].Address)
	}
	waitEndpoints(t, ms, "red", 2)
	ping(t, hosts[0], addrs[hosts[1].Name]["red"], 3)
}

func TestSIGHUPChangesLogLevelWithoutDroppingTraffic(t *testing.T) {
	_, hosts := newLab(t, 2)
	nets := [][]string{{"red"}, {"red"}}
	ms := startCluster(t, hosts, nets, clusterOpts{encrypted: true})
	addrs := waitAttached(t, ms, nets)
	waitEndpoints(t, ms, "red", 2)
	if strings.Contains(ms[1].Proc.Output(), "level=DEBUG") {
		t.Fatal("debug lines before the reload")
	}
	var wg sync.WaitGroup
	var sent, got int
	var perr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		sent, got, perr = pingSeries(hosts[0], addrs[hosts[1].Name]["red"].String(), 100, 50*time.Millisecond)
	}()
	cfg, err := os.ReadFile(ms[1].Config)
	if err != nil {
		t.Fatal(err)
	}
	cfg = regexp.MustCompile(`(?m)^    level: info$`).ReplaceAll(cfg, []byte("    level: debug"))
	if err := os.WriteFile(ms[1].Config, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	ms[1].Proc.Signal(syscall.SIGHUP)
	err = netlab.Poll(10*time.Second, 50*time.Millisecond, func() error {
		if !strings.Contains(ms[1].Proc.Output(), "level=DEBUG") {
			return fmt.Errorf("no debug lines after SIGHUP")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if perr != nil || got != sent {
		t.Fatalf("pings across the reload: %d sent, %d received (%v)", sent, got, perr)
	}
	if !strings.Contains(ms[1].Proc.Output(), "configuration reloaded") {
		t.Fatal("no reload line")
	}
}

// TestDoctorFindsLowMTUAndBlockedPort lowers the MTU of h2's bridge port
// and blocks h2's WireGuard port, and expects doctor on h1 to say both.
func TestDoctorFindsLowMTUAndBlockedPort(t *testing.T) {
	lab, hosts := newLab(t, 2)
	testenvTools(t, "nft")
	nets := [][]string{{"red"}, {"red"}}
	ms := startCluster(t, hosts, nets, clusterOpts{encrypted: true})
	waitAttached(t, ms, nets)
	waitEndpoints(t, ms, "red", 2)
	clean, err := ms[0].CLI("doctor")
	if err != nil {
		t.Fatalf("doctor on a healthy pair: %v\n%s", err, clean)
	}

	if out, err := hosts[1].Run("ip", "netns", "exec", lab.Underlay(), "ip", "link", "set", hosts[1].Uplink(), "mtu", "1400"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if _, err := hosts[1].Run("nft", "add table inet block; add chain inet block in { type filter hook input priority 0; udp dport 51820 drop; }"); err != nil {
		t.Fatal(err)
	}
	out, err := ms[0].CLI("doctor", "--json")
	if err == nil {
		t.Fatalf("doctor passed with a lowered MTU and a blocked port:\n%s", out)
	}
	for _, want := range []string{"path MTU to " + hosts[1].Addr.String() + " is 1400", "needs 1500", "set mtu: 1270",
		"no WireGuard handshake", "UDP 51820"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
	table, _ := ms[0].CLI("doctor")
	t.Logf("meshnet doctor:\n%s", table)
}
