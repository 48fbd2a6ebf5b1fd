package e2e

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"meshnet.dev/meshnet/e2e/netlab"
	"meshnet.dev/meshnet/node/config"
)

// TestControlPlaneFigures measures, on 5 hosts: how long a new endpoint
// takes to be reachable from every member, and the gossip traffic per node
// at idle. It asserts generous bounds and logs the figures.
func TestControlPlaneFigures(t *testing.T) {
	_, hosts := newLab(t, 5)
	nets := [][]string{{"red"}, {"red"}, {"red"}, {"red"}, {"red"}}
	ms := gossipCluster(t, hosts, nets, "tap", false)
	addrs := waitAttached(t, ms, nets)
	waitEndpoints(t, ms, "red", 5)

	// A new endpoint behind h5: time until every other host pings it.
	ep := netip.MustParseAddr("10.10.0.250")
	start := time.Now()
	addEndpoint(t, hosts[4], "mn-red", ep, addrs[hosts[0].Name]["red"])
	var wg sync.WaitGroup
	var mu sync.Mutex
	var slowest time.Duration
	for _, h := range hosts[:4] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := netlab.Poll(30*time.Second, 10*time.Millisecond, func() error {
				_, err := h.Run("ping", "-c", "1", "-W", "1", ep.String())
				return err
			})
			if err != nil {
				t.Errorf("%s never reached the new endpoint: %v", h.Name, err)
			}
			mu.Lock()
			slowest = max(slowest, time.Since(start))
			mu.Unlock()
		}()
	}
	wg.Wait()
	t.Logf("new endpoint reachable from all 4 other members after %s (ARP for an unknown address is replicated)", slowest.Round(time.Millisecond))
	// And in every member's forwarding table (what proxy ARP and TUN mode
	// use) by gossip.
	var inTables time.Duration
	for _, m := range ms[:4] {
		err := netlab.Poll(30*time.Second, 5*time.Millisecond, func() error {
			st, err := m.Status()
			if err != nil {
				return err
			}
			for _, e := range st.Networks[0].Endpoints {
				if e.IP == ep.String() {
					return nil
				}
			}
			return fmt.Errorf("%s does not list %s yet", m.Host.Name, ep)
		})
		if err != nil {
			t.Fatal(err)
		}
		inTables = max(inTables, time.Since(start))
	}
	t.Logf("new endpoint in all 4 other members' tables after %s", inTables.Round(time.Millisecond))
	if inTables > 10*time.Second {
		t.Errorf("endpoint propagation took %s", inTables)
	}

	// Idle gossip: bytes sent per node per second over 10 s.
	const window = 10 * time.Second
	before := make([]uint64, len(ms))
	for i, m := range ms {
		st, err := m.Status()
		if err != nil {
			t.Fatal(err)
		}
		before[i] = st.Gossip.BytesSent
	}
	time.Sleep(window) // measuring a rate over a fixed window, not waiting for a condition
	var total float64
	for i, m := range ms {
		st, err := m.Status()
		if err != nil {
			t.Fatal(err)
		}
		total += float64(st.Gossip.BytesSent - before[i])
	}
	perNode := total / float64(len(ms)) / window.Seconds()
	t.Logf("idle gossip: %.0f bytes/s sent per node (5 nodes, probes included)", perNode)
	if perNode > 20_000 {
		t.Errorf("idle gossip %.0f B/s per node is too chatty", perNode)
	}
}

// TestUserspaceThroughputFigure measures one TCP stream into a TAP node on
// an encrypted network from a TAP node and, on the same bridge, from a
// userspace node through its SOCKS5 proxy; both must arrive intact. The
// ratio is the price of netstack mode.
func TestUserspaceThroughputFigure(t *testing.T) {
	_, hosts := newLab(t, 3)
	dst, tapHost, userHost := hosts[0], hosts[1], hosts[2]
	_, token, dstIP := adminWithRed(t, dst)
	var ms []*netlab.Meshnet
	for _, h := range []*netlab.Host{tapHost, userHost} {
		c := config.DefaultConfig()
		c.Name, c.Token, c.Userspace = h.Name, token, h == userHost
		c.Networks = []config.NetworkConfig{{Name: "red"}}
		m, err := h.StartMeshnet(bin.meshnet, c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.WaitNetworks(60*time.Second, "red"); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	waitEndpoints(t, ms, "red", 3)
	const n = 100 << 20
	results := map[string]xferResult{}
	for _, run := range []struct {
		name  string
		from  *netlab.Host
		extra []string
	}{{"tap", tapHost, nil}, {"socks5", userHost, []string{"-socks5", "127.0.0.1:1080"}}} {
		sent, got := transfer(t, run.from, dst, dstIP, n, run.extra...)
		if got.Bytes != n || got.SHA256 != sent.SHA256 {
			t.Fatalf("%s: sent %d bytes (%s), received %d (%s)", run.name, sent.Bytes, sent.SHA256, got.Bytes, got.SHA256)
		}
		results[run.name] = got
	}
	tap, socks := results["tap"].Mbps, results["socks5"].Mbps
	t.Logf("100 MiB over TCP into a TAP node, encrypted: from a TAP node %.0f Mbit/s, from a userspace node through SOCKS5 %.0f Mbit/s (%.2fx of TAP)",
		tap, socks, socks/tap)
}
