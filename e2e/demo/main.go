// Command demo builds a three-host meshnet on this machine out of network
// namespaces, pings every pair over the overlay in TAP and in TUN mode,
// prints `meshnet status`, and removes everything it created. It exits 0
// only if every ping succeeded.
//
//	go run ./e2e/demo -meshnet bin/meshnet
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"meshnet.dev/meshnet/internal/netlab"
	"meshnet.dev/meshnet/node"
)

func main() {
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
	fmt.Println("\nverdict: OK — 3 hosts, every pair reachable over the overlay in TAP and TUN mode")
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
	for i, h := range hosts {
		m, err := h.StartMeshnet(binary, config(hosts, i, mode))
		if err != nil {
			return 0, err
		}
		fmt.Printf("  %s: underlay %s, overlay %s, meshnet pid %d\n", h.Name, h.Addr, overlay(i), m.Proc.Cmd.Process.Pid)
		nodes = append(nodes, m)
	}
	failed := 0
	for i, h := range hosts {
		for j := range hosts {
			if i == j {
				continue
			}
			out, err := h.Run("ping", "-c", "3", "-i", "0.1", "-W", "2", overlay(j).String())
			if err != nil {
				failed++
				fmt.Printf("  ping %s → %s (%s): FAILED\n", h.Name, hosts[j].Name, overlay(j))
				continue
			}
			fmt.Printf("  ping %s → %s (%s): %s\n", h.Name, hosts[j].Name, overlay(j), rttLine(out))
		}
	}
	fmt.Printf("\n$ meshnet status   (on %s)\n", hosts[0].Name)
	status, err := nodes[0].CLI("status")
	if err != nil {
		return failed, err
	}
	fmt.Println(indent(status))
	return failed, nil
}

func overlay(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 42, 0, byte(i + 1)}) }

// config gives host i every other host as a static peer on network blue.
func config(hosts []*netlab.Host, i int, mode string) node.Config {
	c := node.DefaultConfig()
	c.Name = hosts[i].Name
	c.Mode = mode
	c.Underlay.Address = hosts[i].Addr.String()
	c.Networks = []node.NetworkConfig{{Name: "blue", VNI: 4242, Subnet: "10.42.0.0/24", Address: overlay(i).String()}}
	for j, o := range hosts {
		if j != i {
			c.Peers = append(c.Peers, node.PeerConfig{Name: o.Name, Address: o.Addr.String(),
				Endpoints: []node.EndpointConfig{{Network: "blue", IP: overlay(j).String()}}})
		}
	}
	return c
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
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
}
