package e2e

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"meshnet.dev/meshnet/e2e/netlab"
	"meshnet.dev/meshnet/node/config"
)

// Broadcast, multicast and IPv6 neighbour traffic over real devices on an
// encrypted network, checked with stock tools: what an application on a
// LAN expects from meshnet's head-end replication.

const bumDevice = "mn-red"

// TestBroadcastMulticastAndIPv6 runs three hosts on encrypted network red
// and checks broadcast ping, UDP multicast to a group, mDNS with a real
// responder, IPv6 link-local unicast and ff02::1.
func TestBroadcastMulticastAndIPv6(t *testing.T) {
	testenvTools(t, "socat", "avahi-daemon")
	hosts, _, ips := encryptedPair(t, 3, clusterOpts{})

	t.Run("broadcast ping", func(t *testing.T) {
		for _, h := range hosts[1:] {
			if out, err := h.Run("sysctl", "-w", "net.ipv4.icmp_echo_ignore_broadcasts=0"); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		}
		bcast := broadcastAddr(t, ips[0])
		// Each round's replies come from whoever answers first; keep
		// pinging until both others have answered.
		seen := map[string]bool{}
		err := netlab.Poll(20*time.Second, 0, func() error {
			out, _ := hosts[0].Run("ping", "-b", "-c", "3", "-i", "0.2", "-W", "1", bcast)
			for _, ip := range ips[1:] {
				if strings.Contains(out, "from "+ip+":") {
					seen[ip] = true
				}
			}
			if len(seen) < 2 {
				return fmt.Errorf("answered by %v of %v:\n%s", seen, ips[1:], out)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("UDP multicast", func(t *testing.T) {
		const group, port, datagrams = "239.1.2.3", 5000, 3
		var files []string
		for _, h := range hosts[1:] {
			out := filepath.Join(h.Dir, "mcast.txt")
			files = append(files, out)
			if _, err := h.Start("mcast-recv", "socat", "-u",
				fmt.Sprintf("UDP4-RECV:%d,reuseaddr,ip-add-membership=%s:%s", port, group, bumDevice),
				"OPEN:"+out+",creat,append"); err != nil {
				t.Fatal(err)
			}
			// Joined once the kernel lists the group on the device.
			err := netlab.Poll(10*time.Second, 20*time.Millisecond, func() error {
				out, err := h.Run("ip", "maddr", "show", "dev", bumDevice)
				if err != nil || !strings.Contains(out, group) {
					return fmt.Errorf("%s has not joined %s: %v\n%s", h.Name, group, err, out)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		for i := range datagrams {
			cmd := hosts[0].Command(t.Context(), "socat", "-u", "-",
				fmt.Sprintf("UDP4-DATAGRAM:%s:%d,ip-multicast-if=%s", group, port, ips[0]))
			cmd.Stdin = strings.NewReader(fmt.Sprintf("datagram %d from %s\n", i, hosts[0].Name))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("socat sender: %v\n%s", err, out)
			}
		}
		for i, f := range files {
			err := netlab.Poll(10*time.Second, 20*time.Millisecond, func() error {
				b, _ := os.ReadFile(f)
				if n := strings.Count(string(b), "\n"); n != datagrams {
					return fmt.Errorf("%s received %d of %d datagrams:\n%s", hosts[i+1].Name, n, datagrams, b)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("mDNS", func(t *testing.T) {
		responder := hosts[1]
		startAvahi(t, responder)
		var res struct{ Addrs []string }
		err := netlab.Poll(30*time.Second, 0, func() error {
			out, err := hosts[0].Run(bin.xfer, "mdns", "-name", responder.Name+"-mdns.local", "-iface", bumDevice, "-timeout", "3s")
			if err != nil {
				return err
			}
			return json.Unmarshal([]byte(out), &res)
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Addrs, []string{ips[1]}) {
			t.Fatalf("%s-mdns.local resolved to %v, want [%s]", responder.Name, res.Addrs, ips[1])
		}
	})

	t.Run("IPv6 link-local and ff02::1", func(t *testing.T) {
		var lls []string
		for _, h := range hosts {
			lls = append(lls, linkLocal(t, h))
		}
		out, err := hosts[0].Run("ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", lls[1]+"%"+bumDevice)
		if err != nil {
			t.Fatalf("link-local ping: %v\n%s", err, out)
		}
		want := slices.Clone(lls)
		sort.Strings(want)
		err = netlab.Poll(20*time.Second, 0, func() error {
			out, _ := hosts[0].Run("ping", "-6", "-c", "3", "-i", "0.2", "-W", "1", "ff02::1%"+bumDevice)
			var got []string
			for _, m := range regexp.MustCompile(`from (fe80::[0-9a-f:]+)`).FindAllStringSubmatch(out, -1) {
				if !slices.Contains(got, m[1]) {
					got = append(got, m[1])
				}
			}
			sort.Strings(got)
			if !slices.Equal(got, want) {
				return fmt.Errorf("ff02::1 answered by %v, want %v:\n%s", got, want, out)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// broadcastAddr is the directed broadcast address of ip's /24 network.
func broadcastAddr(t *testing.T, ip string) string {
	t.Helper()
	a := netip.MustParseAddr(ip).As4()
	a[3] = 255
	return netip.AddrFrom4(a).String()
}

// linkLocal waits for h's IPv6 link-local address on the overlay device to
// leave duplicate address detection and returns it.
func linkLocal(t *testing.T, h *netlab.Host) string {
	t.Helper()
	var addr string
	err := netlab.Poll(10*time.Second, 50*time.Millisecond, func() error {
		out, err := h.Run("ip", "-6", "-o", "addr", "show", "dev", bumDevice, "scope", "link")
		if err != nil {
			return err
		}
		if strings.Contains(out, "tentative") {
			return fmt.Errorf("%s: still tentative: %s", h.Name, out)
		}
		m := regexp.MustCompile(`inet6 (fe80::[0-9a-f:]+)/64`).FindStringSubmatch(out)
		if m == nil {
			return fmt.Errorf("%s has no link-local address on %s: %s", h.Name, bumDevice, out)
		}
		addr = m[1]
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// startAvahi runs Debian's avahi-daemon in h, publishing <host>-mdns.local
// on the overlay device only. Each daemon gets its own /run/avahi-daemon
// (ip netns exec gives every command a private mount namespace) and no
// D-Bus, so several can run on one machine.
func startAvahi(t *testing.T, h *netlab.Host) {
	t.Helper()
	conf := filepath.Join(h.Dir, "avahi-daemon.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`[server]
host-name=%s-mdns
domain-name=local
use-ipv4=yes
use-ipv6=no
allow-interfaces=%s
enable-dbus=no
[publish]
publish-addresses=yes
publish-workstation=no
publish-hinfo=no
`, h.Name, bumDevice)), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	p, err := h.Start("avahi", "sh", "-c",
		"mkdir -p /run/avahi-daemon && mount -t tmpfs tmpfs /run/avahi-daemon && exec avahi-daemon --no-drop-root --no-chroot --no-rlimits -f "+conf)
	if err != nil {
		t.Fatal(err)
	}
	err = netlab.Poll(10*time.Second, 50*time.Millisecond, func() error {
		if p.Exited() {
			return fmt.Errorf("avahi-daemon exited:\n%s", p.Output())
		}
		if !strings.Contains(p.Output(), "Server startup complete") {
			return fmt.Errorf("avahi-daemon is starting:\n%s", p.Output())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestBroadcastFloodIsBounded floods the network with broadcast from one
// host, ten times faster than the bound its node is configured with,
// while the other two move TCP between them: the flooding host's node
// replicates no more than the bound (and counts the rest as bum_rate drops
// in its metrics), and the unicast keeps its throughput within 20%. Quiet
// and flooded samples alternate and are compared pair by pair, so a shared
// machine's drift hits both sides of each comparison.
func TestBroadcastFloodIsBounded(t *testing.T) {
	const metrics = "127.0.0.1:9432"
	const (
		rate, burst = 1000, 200 // broadcast.rate and burst, half the defaults
		floodRate   = 10000     // frames per second the host sends
		pairs       = 5         // quiet and flooded samples, alternating
		chunk       = 100 << 20 // bytes per throughput sample
	)
	hosts, _, ips := encryptedPair(t, 3, clusterOpts{metrics: metrics, broadcast: config.BroadcastConfig{Rate: rate, Burst: burst}})
	series := func(reason string) string {
		if reason == "" {
			return `meshnet_network_replicated_total{network="red"}`
		}
		return fmt.Sprintf(`meshnet_network_drops_total{network="red",reason="%s"}`, reason)
	}
	sample := func() float64 {
		_, got := transfer(t, hosts[1], hosts[2], ips[2], chunk)
		return got.Mbps
	}
	var quiet, flooded []float64
	var sent uint64
	var flooding time.Duration
	before := scrape(t, hosts[0], metrics)
	for i := range pairs {
		quiet = append(quiet, sample())
		dropsAt := scrape(t, hosts[0], metrics)[series("bum_rate")]
		start := time.Now()
		flood, err := hosts[0].Start(fmt.Sprintf("flood-%d", i), bin.xfer, "flood", "-kind", "broadcast",
			"-to", broadcastAddr(t, ips[0])+":9", "-rate", fmt.Sprint(floodRate), "-duration", "1m")
		if err != nil {
			t.Fatal(err)
		}
		// Sample once the node is shedding the flood.
		err = netlab.Poll(10*time.Second, 20*time.Millisecond, func() error {
			if scrape(t, hosts[0], metrics)[series("bum_rate")] <= dropsAt {
				return fmt.Errorf("no bum_rate drops yet")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		flooded = append(flooded, sample())
		flood.Signal(os.Interrupt)
		if err := flood.Wait(10 * time.Second); err != nil {
			t.Fatalf("flood: %v\n%s", err, flood.Output())
		}
		flooding += time.Since(start)
		var res struct{ Sent uint64 }
		if err := json.Unmarshal([]byte(flood.Output()), &res); err != nil {
			t.Fatalf("flood said %q: %v", flood.Output(), err)
		}
		sent += res.Sent
	}
	after := scrape(t, hosts[0], metrics)
	replicated := after[series("")] - before[series("")]
	dropped := after[series("bum_rate")] - before[series("bum_rate")]
	median := func(xs []float64) float64 { xs = slices.Clone(xs); slices.Sort(xs); return xs[len(xs)/2] }
	// Each flooded sample against the quiet one just before it: the
	// median of those ratios cancels what other work does to both.
	var ratios []float64
	for i := range pairs {
		ratios = append(ratios, flooded[i]/quiet[i])
	}
	q, f, r := median(quiet), median(flooded), median(ratios)
	t.Logf("flood: %d broadcast frames sent in %s; %s's node replicated %.0f (bound %d/s + %d burst per flood) and dropped %.0f as bum_rate",
		sent, flooding.Round(time.Millisecond), hosts[0].Name, replicated, rate, burst, dropped)
	t.Logf("unicast %s→%s: %.0f Mbit/s quiet %.0f, %.0f Mbit/s during the flood %.0f; flooded/quiet by pair %.2f, median %.2f×",
		hosts[1].Name, hosts[2].Name, q, quiet, f, flooded, ratios, r)
	if bound := float64(rate)*flooding.Seconds() + burst*pairs; replicated > bound*1.05 || replicated < bound/4 {
		t.Errorf("replicated %.0f frames, want at most the bound %.0f (and a fair part of it: the flood ran)", replicated, bound)
	}
	if dropped < float64(sent)/2 {
		t.Errorf("%.0f frames counted as bum_rate drops of %d sent ten times over the bound", dropped, sent)
	}
	if r < 0.8 {
		t.Errorf("unicast fell to %.2f× of its quiet throughput during the flood, want within 20%%", r)
	}
}
