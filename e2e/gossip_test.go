package e2e

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"meshnet.dev/meshnet/e2e/netlab"
	"meshnet.dev/meshnet/node/api"
	"meshnet.dev/meshnet/node/config"
)

// gossipCluster starts meshnet on every host: the first starts the cluster
// (becoming its admin node) and defines "red"; the others join with a token
// from it, each attaching to the networks nets[i].
func gossipCluster(t *testing.T, hosts []*netlab.Host, nets [][]string, mode string, encrypted bool) []*netlab.Meshnet {
	return startCluster(t, hosts, nets, clusterOpts{mode: mode, encrypted: encrypted})
}

// clusterOpts tune startCluster.
type clusterOpts struct {
	mode      string        // tap (default) or tun
	encrypted bool          // network red encrypted
	rotation  time.Duration // admin key rotation interval (default 12h)
	debug     bool          // log at debug level
	metrics   string        // metrics address on every node
	leave     time.Duration // gossip.leave_timeout (default 3s)
	broadcast config.BroadcastConfig
	bridge    string // networks[].bridge of red on every node
	subnet    string // red's subnet (default 10.10.0.0/24)
}

// startCluster is gossipCluster with options.
func startCluster(t *testing.T, hosts []*netlab.Host, nets [][]string, o clusterOpts) []*netlab.Meshnet {
	t.Helper()
	ms := make([]*netlab.Meshnet, len(hosts))
	t.Cleanup(func() {
		if t.Failed() {
			dumpWG(t, ms)
		}
	})
	var token string
	for i, h := range hosts {
		c := config.DefaultConfig()
		c.Name = h.Name
		if o.mode != "" {
			c.Mode = o.mode
		}
		c.Gossip.BulkSyncInterval = 5 * time.Second
		if o.rotation > 0 {
			c.Keys.RotationInterval = o.rotation
		}
		if o.debug {
			c.Log.Level = "debug"
		}
		c.Metrics.Address = o.metrics
		if o.leave > 0 {
			c.Gossip.LeaveTimeout = o.leave
		}
		if o.broadcast.Rate > 0 {
			c.Broadcast = o.broadcast
		}
		for _, n := range nets[i] {
			nc := config.NetworkConfig{Name: n}
			if i == 0 && n == "red" {
				nc.Subnet = "10.10.0.0/24"
				if o.subnet != "" {
					nc.Subnet = o.subnet
				}
				nc.Encrypted = &o.encrypted
			}
			if n == "red" {
				nc.Bridge = o.bridge
			}
			c.Networks = append(c.Networks, nc)
		}
		c.Token = token
		m, err := h.StartMeshnet(bin.meshnet, c)
		if err != nil {
			t.Fatal(err)
		}
		ms[i] = m
		if i == 0 {
			token = joinToken(t, m)
		}
	}
	return ms
}

// joinToken asks an admin node for a join token.
func joinToken(t *testing.T, admin *netlab.Meshnet) string {
	t.Helper()
	out, err := admin.CLI("token", "--ttl", "10m")
	if err != nil {
		t.Fatalf("meshnet token: %v\n%s", err, out)
	}
	return strings.TrimSpace(strings.Split(out, "\n")[0])
}

// waitAttached waits until every daemon has an address on each of its
// networks and returns the addresses by host and network.
func waitAttached(t *testing.T, ms []*netlab.Meshnet, nets [][]string) map[string]map[string]netip.Addr {
	t.Helper()
	out := map[string]map[string]netip.Addr{}
	for i, m := range ms {
		st, err := m.WaitNetworks(60*time.Second, nets[i]...)
		if err != nil {
			t.Fatal(err)
		}
		out[m.Host.Name] = map[string]netip.Addr{}
		for _, n := range st.Networks {
			out[m.Host.Name][n.Name] = netip.MustParsePrefix(n.Address).Addr()
		}
	}
	return out
}

// waitEndpoints waits until every daemon on network sees want endpoints.
func waitEndpoints(t *testing.T, ms []*netlab.Meshnet, network string, want int) {
	t.Helper()
	for _, m := range ms {
		if err := m.WaitEndpoints(60*time.Second, network, want); err != nil {
			t.Fatal(err)
		}
	}
}

func pingFails(t *testing.T, h *netlab.Host, ip netip.Addr) {
	t.Helper()
	if out, err := h.Run("ping", "-c", "2", "-i", "0.2", "-W", "1", ip.String()); err == nil {
		t.Fatalf("%s reached %s but must not:\n%s", h.Name, ip, out)
	}
}

func TestNetworksIsolateTheirMembers(t *testing.T) {
	_, hosts := newLab(t, 5)
	nets := [][]string{{"red"}, {"red"}, {"red", "green"}, {"green"}, {"green"}}
	ms := gossipCluster(t, hosts, nets, "tap", false)
	if out, err := ms[0].CLI("network", "create", "green", "--subnet", "10.20.0.0/24"); err != nil {
		t.Fatalf("network create: %v\n%s", err, out)
	}
	addrs := waitAttached(t, ms, nets)
	waitEndpoints(t, ms[:3], "red", 3)
	waitEndpoints(t, ms[2:], "green", 3)
	for i, a := range hosts {
		for j, b := range hosts {
			if i == j {
				continue
			}
			for _, nw := range []string{"red", "green"} {
				dst, ok := addrs[b.Name][nw]
				if !ok {
					continue
				}
				if slices.Contains(nets[i], nw) {
					ping(t, a, dst, 2)
				} else {
					pingFails(t, a, dst)
				}
			}
		}
	}
	out, err := ms[2].CLI("networks")
	if err != nil || !strings.Contains(out, "green") || !strings.Contains(out, "red") {
		t.Fatalf("meshnet networks: %v\n%s", err, out)
	}
	t.Logf("meshnet networks on h3:\n%s", out)
}

// TestCrashedNodeIsDeclaredDeadAndComesBack kills a node, checks every
// other node declares it failed and stops using its endpoint, then restarts
// it under the same name and reaches it again.
func TestCrashedNodeIsDeclaredDeadAndComesBack(t *testing.T) {
	_, hosts := newLab(t, 5)
	nets := [][]string{{"red"}, {"red"}, {"red"}, {"red"}, {"red"}}
	ms := gossipCluster(t, hosts, nets, "tap", false)
	addrs := waitAttached(t, ms, nets)
	waitEndpoints(t, ms, "red", 5)
	victim := ms[4]
	ping(t, hosts[0], addrs[victim.Host.Name]["red"], 1)

	killed := time.Now()
	victim.Proc.Signal(syscall.SIGKILL)
	victim.Proc.Wait(10 * time.Second)
	var slowest time.Duration
	for _, m := range ms[:4] {
		err := netlab.Poll(60*time.Second, 50*time.Millisecond, func() error {
			st, err := m.Status()
			if err != nil {
				return err
			}
			for _, p := range st.Peers {
				if p.Name == victim.Host.Name && p.State != "failed" {
					return fmt.Errorf("%s sees %s as %s", m.Host.Name, p.Name, p.State)
				}
			}
			for _, n := range st.Networks {
				for _, e := range n.Endpoints {
					if e.Node == victim.Host.Name {
						return fmt.Errorf("%s still uses %s's endpoint", m.Host.Name, e.Node)
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		slowest = max(slowest, time.Since(killed))
	}
	t.Logf("SIGKILL to every node marking it failed and dropping its endpoints: %s", slowest.Round(10*time.Millisecond))
	pingFails(t, hosts[0], addrs[victim.Host.Name]["red"])

	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	st, err := victim.WaitNetworks(60*time.Second, "red")
	if err != nil {
		t.Fatal(err)
	}
	waitEndpoints(t, ms, "red", 5)
	back := netip.MustParsePrefix(st.Networks[0].Address).Addr()
	ping(t, hosts[0], back, 2)
	ping(t, victim.Host, addrs[hosts[0].Name]["red"], 2)
}

// partition cuts hosts off from the others' underlay addresses with
// nftables drop rules; the returned function heals it.
func partition(t *testing.T, cut []*netlab.Host, others []*netlab.Host) func() {
	t.Helper()
	var set []string
	for _, o := range others {
		set = append(set, o.Addr.String())
	}
	addrs := "{ " + strings.Join(set, ", ") + " }"
	rules := fmt.Sprintf(`table inet mnpart {
  chain in { type filter hook input priority 0; ip saddr %s drop; }
  chain out { type filter hook output priority 0; ip daddr %s drop; }
}`, addrs, addrs)
	for _, h := range cut {
		if _, err := h.Run("sh", "-c", "echo '"+rules+"' | nft -f -"); err != nil {
			t.Fatal(err)
		}
	}
	return func() {
		for _, h := range cut {
			if _, err := h.Run("nft", "delete", "table", "inet", "mnpart"); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// addEndpoint gives host an extra address on the network's device and
// sends from it, so its node learns and publishes the new endpoint.
func addEndpoint(t *testing.T, h *netlab.Host, device string, ip netip.Addr, via netip.Addr) {
	t.Helper()
	if _, err := h.Run("ip", "addr", "add", ip.String()+"/24", "dev", device); err != nil {
		t.Fatal(err)
	}
	// The ping's source teaches the node the endpoint; whether it gets an
	// answer (across a partition) does not matter.
	h.Run("ping", "-c", "1", "-W", "1", "-I", ip.String(), via.String())
}

func TestPartitionHealsAndConverges(t *testing.T) {
	_, hosts := newLab(t, 5)
	testenvTools(t, "nft")
	nets := [][]string{{"red"}, {"red"}, {"red"}, {"red"}, {"red"}}
	ms := gossipCluster(t, hosts, nets, "tap", false)
	addrs := waitAttached(t, ms, nets)
	waitEndpoints(t, ms, "red", 5)

	heal := partition(t, hosts[3:], hosts[:3])
	// Both sides see the other fail.
	for _, m := range []*netlab.Meshnet{ms[0], ms[4]} {
		err := netlab.Poll(60*time.Second, 100*time.Millisecond, func() error {
			st, err := m.Status()
			if err != nil {
				return err
			}
			if st.Node.Members != map[bool]int{true: 3, false: 2}[m == ms[0]] {
				return fmt.Errorf("%s still sees %d members", m.Host.Name, st.Node.Members)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Both sides change endpoints while apart.
	// Addresses IPAM did not give a node (it assigns at random).
	used := map[netip.Addr]bool{}
	for _, h := range hosts {
		used[addrs[h.Name]["red"]] = true
	}
	free := func(from netip.Addr) netip.Addr {
		for used[from] {
			from = from.Next()
		}
		used[from] = true
		return from
	}
	majorityNew := free(netip.MustParseAddr("10.10.0.201"))
	minorityNew := free(netip.MustParseAddr("10.10.0.204"))
	addEndpoint(t, hosts[0], "mn-red", majorityNew, addrs[hosts[1].Name]["red"])
	addEndpoint(t, hosts[3], "mn-red", minorityNew, addrs[hosts[4].Name]["red"])
	waitEndpoints(t, ms[:3], "red", 4) // 3 nodes + the new one; the far side's are hidden
	waitEndpoints(t, ms[3:], "red", 3)

	healed := time.Now()
	heal()
	waitEndpoints(t, ms, "red", 7)
	t.Logf("partition healed: every node sees all 7 endpoints %s after the rules were removed", time.Since(healed).Round(10*time.Millisecond))
	for _, a := range hosts {
		for _, b := range hosts {
			if a != b {
				ping(t, a, addrs[b.Name]["red"], 1)
			}
		}
	}
	ping(t, hosts[4], majorityNew, 2)
	ping(t, hosts[1], minorityNew, 2)
	// Tables are identical everywhere.
	var first []api.Endpoint
	for i, m := range ms {
		st, err := m.Status()
		if err != nil {
			t.Fatal(err)
		}
		eps := st.Networks[0].Endpoints
		if i == 0 {
			first = eps
		} else if !slices.Equal(eps, first) {
			t.Fatalf("%s's endpoints differ from h1's:\n%v\n%v", m.Host.Name, eps, first)
		}
	}
}
