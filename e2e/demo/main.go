// Command demo builds a three-host meshnet on this machine out of network
// namespaces: host1 starts a cluster and defines a network with `meshnet
// network create`; host2 and host3 join through host1's address alone and
// get their addresses by IPAM. It pings every pair over the overlay in TAP
// and in TUN mode, prints `meshnet peers`, `networks` and `status`, and
// removes everything it created. It exits 0 only if every ping succeeded.
//
//	go run ./e2e/demo -meshnet bin/meshnet
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"meshnet.dev/meshnet/e2e/netlab"
	"meshnet.dev/meshnet/node/api"
	"meshnet.dev/meshnet/node/config"
)

func main() {
	runWeb(os.Args[1:])
	binary := flag.String("meshnet", "bin/meshnet", "meshnet binary to run")
	verbose := flag.Bool("v", false, "show every command the demo runs")
	flag.Parse()
	if err := run(*binary, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func run(binary string, verbose bool) error {
	modes := []string{"tap", "tun"}
	failures := 0
	for _, mode := range modes {
		n, err := runMode(binary, mode, verbose)
		if err != nil {
			return err
		}
		failures += n
	}
	if failures > 0 {
		return fmt.Errorf("%d of %d pings failed", failures, 6*len(modes))
	}
	fmt.Println("\nverdict: OK — 3 hosts joined by token, every pair reachable over the encrypted overlay in TAP and TUN mode, a service answering through its name")
	return nil
}

// runMode runs one three-host mesh and returns how many pair pings failed.
func runMode(binary, mode string, verbose bool) (int, error) {
	opts := netlab.Options{Prefix: "mndemo"}
	if verbose {
		opts.Log = os.Stderr
	}
	lab, err := netlab.New(opts)
	if err != nil {
		return 0, err
	}
	defer lab.Close()
	// Clean up on Ctrl-C too.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	go func() {
		if _, ok := <-sig; ok {
			lab.Close()
			os.Exit(130)
		}
	}()

	fmt.Printf("== %s mode: 3 hosts (network namespaces) on one bridge ==\n", strings.ToUpper(mode))
	var hosts []*netlab.Host
	for i := range 3 {
		h, err := lab.AddHost(fmt.Sprintf("host%d", i+1))
		if err != nil {
			return 0, err
		}
		hosts = append(hosts, h)
	}
	var nodes []*netlab.Meshnet
	var token string
	for i, h := range hosts {
		c := config.DefaultConfig()
		c.Name, c.Mode, c.Token = h.Name, mode, token
		c.Networks = []config.NetworkConfig{{Name: "blue"}}
		m, err := h.StartMeshnet(binary, c)
		if err != nil {
			return 0, err
		}
		nodes = append(nodes, m)
		if i == 0 {
			fmt.Printf("  $ meshnet network create blue --subnet 10.42.0.0/24   (on %s; encrypted by default)\n", h.Name)
			if out, err := m.CLI("network", "create", "blue", "--subnet", "10.42.0.0/24"); err != nil {
				return 0, fmt.Errorf("%v: %s", err, out)
			}
			fmt.Printf("  $ meshnet token   (on %s; the others start with meshnet up --token-file ...)\n", h.Name)
			out, err := m.CLI("token", "--ttl", "10m")
			if err != nil {
				return 0, fmt.Errorf("%v: %s", err, out)
			}
			token = strings.TrimSpace(strings.Split(out, "\n")[0])
		}
	}
	addrs := make([]netip.Addr, len(hosts))
	for i, m := range nodes {
		st, err := m.WaitNetworks(60*time.Second, "blue")
		if err != nil {
			return 0, err
		}
		addrs[i] = netip.MustParsePrefix(st.Networks[0].Address).Addr()
		join := "started the cluster"
		if i > 0 {
			join = "joined with the token"
		}
		fmt.Printf("  %s: underlay %s, %s, overlay %s (IPAM), meshnet pid %d\n", hosts[i].Name, hosts[i].Addr, join, addrs[i], m.Proc.Cmd.Process.Pid)
	}
	for _, m := range nodes {
		if err := m.WaitEndpoints(60*time.Second, "blue", len(nodes)); err != nil {
			return 0, err
		}
	}
	failed := 0
	for i, h := range hosts {
		for j := range hosts {
			if i == j {
				continue
			}
			out, err := h.Run("ping", "-c", "3", "-i", "0.1", "-W", "2", addrs[j].String())
			if err != nil {
				failed++
				fmt.Printf("  ping %s → %s (%s): FAILED\n", h.Name, hosts[j].Name, addrs[j])
				continue
			}
			fmt.Printf("  ping %s → %s (%s): %s\n", h.Name, hosts[j].Name, addrs[j], rttLine(out))
		}
	}
	if mode == "tap" {
		if err := demoService(hosts, nodes, addrs); err != nil {
			return failed, err
		}
	}
	fmt.Printf("\n  $ wg show wg-%s   (stock wireguard-tools on %s)\n", hosts[0].Name, hosts[0].Name)
	if out, err := hosts[0].Run("wg", "show", "wg-"+hosts[0].Name); err == nil {
		fmt.Println(indent(out))
	}
	for _, cmd := range []string{"peers", "networks", "status"} {
		fmt.Printf("\n  $ meshnet %s   (on %s)\n", cmd, hosts[0].Name)
		out, err := nodes[0].CLI(cmd)
		if err != nil {
			return failed, err
		}
		fmt.Println(indent(out))
	}
	return failed, nil
}

// demoService runs a web service with backends on host2 and host3 and
// fetches it by name from host1 through meshnet's DNS and the VIP.
func demoService(hosts []*netlab.Host, nodes []*netlab.Meshnet, addrs []netip.Addr) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Printf("\n  $ meshnet service create web --network blue --port 80/tcp   (on %s)\n", hosts[0].Name)
	if out, err := nodes[0].CLI("service", "create", "web", "--network", "blue", "--port", "80/tcp"); err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	for i := 1; i < len(hosts); i++ {
		p, err := hosts[i].Start("web", self, "_serve", addrs[i].String()+":80", hosts[i].Name)
		if err != nil {
			return err
		}
		if err := netlab.Poll(10*time.Second, 20*time.Millisecond, func() error {
			if !strings.Contains(p.Output(), "listening") {
				return fmt.Errorf("web server on %s not up", hosts[i].Name)
			}
			return nil
		}); err != nil {
			return err
		}
		fmt.Printf("  $ meshnet service add-backend web %s:80   (on %s, which runs a web server answering %q)\n", addrs[i], hosts[i].Name, hosts[i].Name)
		if out, err := nodes[i].CLI("service", "add-backend", "web", addrs[i].String()+":80"); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
	}
	if err := netlab.Poll(30*time.Second, 100*time.Millisecond, func() error {
		out, err := nodes[0].CLI("service", "inspect", "web", "--json")
		if err != nil {
			return err
		}
		var svc api.Service
		if err := json.Unmarshal([]byte(out), &svc); err != nil {
			return err
		}
		healthy := 0
		for _, b := range svc.Backends {
			if b.Healthy {
				healthy++
			}
		}
		if healthy != 2 {
			return fmt.Errorf("%d of 2 backends healthy", healthy)
		}
		return nil
	}); err != nil {
		return err
	}
	out, err := nodes[0].CLI("service", "ls")
	if err != nil {
		return err
	}
	fmt.Println(indent(out))
	fmt.Printf("  10 requests from %s to http://web.meshnet.internal/ (resolved by meshnet's DNS on %s):\n", hosts[0].Name, addrs[0])
	got, err := hosts[0].Run(self, "_get", "http://web.meshnet.internal/", addrs[0].String()+":53", "10")
	if err != nil {
		return err
	}
	counts := map[string]int{}
	for _, l := range strings.Fields(got) {
		counts[l]++
	}
	if counts[hosts[1].Name]+counts[hosts[2].Name] != 10 {
		return fmt.Errorf("the service did not answer every request: %q", got)
	}
	fmt.Printf("    answered by %s: %d, by %s: %d\n", hosts[1].Name, counts[hosts[1].Name], hosts[2].Name, counts[hosts[2].Name])
	return nil
}

// rttLine extracts ping's summary ("3/3 received, rtt avg 0.123 ms").
func rttLine(out string) string {
	var received, avg string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "received") {
			f := strings.Split(l, ",")
			if len(f) > 1 {
				received = strings.TrimSpace(f[1])
			}
		}
		if strings.HasPrefix(l, "rtt") {
			if parts := strings.Split(strings.Fields(l)[3], "/"); len(parts) > 1 {
				avg = parts[1]
			}
		}
	}
	return fmt.Sprintf("%s, rtt avg %s ms", received, avg)
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}
