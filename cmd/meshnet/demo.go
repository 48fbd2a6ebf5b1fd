package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"meshnet.dev/meshnet/node"
	"meshnet.dev/meshnet/node/api"
	"meshnet.dev/meshnet/node/config"
)

func demoCmd(g *globals) *cobra.Command {
	var verbose bool
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run a three-node meshnet in this process, unprivileged, and check it works",
		Long: `Run three meshnet nodes in this one process, each in an unprivileged userspace
network stack, talking over loopback: the first starts a cluster and an
encrypted network, the others join with a token. Two of them expose a small
web server into the overlay as backends of a service; the first fetches it
by name through its SOCKS5 proxy. Prints the peers, networks and services
tables and a verdict, and exits 0 only if everything worked. Needs no root,
no TAP/TUN and no configuration.`,
		Example: "  meshnet demo",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger := slog.New(slog.DiscardHandler)
			if verbose {
				logger = node.NewLogger(g.stderr, slog.LevelInfo, false)
			}
			return runDemo(cmd.Context(), g.stdout, logger)
		},
	}
	c.Flags().BoolVarP(&verbose, "verbose", "v", false, "show the nodes' logs")
	return c
}

// demoNode is one in-process node of the demo.
type demoNode struct {
	name  string
	n     *node.Node
	socks netip.AddrPort
	done  chan error
}

func runDemo(parent context.Context, out io.Writer, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(parent, 2*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "meshnet-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintln(out, "== meshnet demo: 3 nodes in userspace stacks over loopback (no root, no TAP/TUN) ==")

	var nodes []*demoNode
	defer func() {
		cancel()
		for _, d := range nodes {
			<-d.done
		}
	}()
	var token string
	for i := range 3 {
		d, err := startDemoNode(ctx, dir, i, token, logger)
		if err != nil {
			return err
		}
		nodes = append(nodes, d)
		if i == 0 {
			tok, err := d.n.IssueToken(10 * time.Minute)
			if err != nil {
				return err
			}
			token = tok.Token
			fmt.Fprintf(out, "  %s: started cluster %s, defined encrypted network demo (10.99.0.0/24)\n", d.name, tok.Cluster)
		} else {
			fmt.Fprintf(out, "  %s: joined with a token\n", d.name)
		}
	}
	addrs, err := demoConverge(ctx, nodes)
	if err != nil {
		return err
	}
	for i, d := range nodes {
		fmt.Fprintf(out, "  %s: overlay address %s (IPAM)\n", d.name, addrs[i])
	}

	// A service whose backends are the web servers demo2 and demo3 expose.
	if _, err := nodes[0].n.CreateService(api.CreateService{Name: "web", Network: "demo", Ports: "80/tcp"}); err != nil {
		return err
	}
	for i := 1; i < 3; i++ {
		if err := nodes[i].n.AddBackend("web", addrs[i].String()+":80"); err != nil {
			return err
		}
	}
	if err := waitFor(ctx, "both backends healthy", func() bool { return healthyBackends(nodes[0].n, "web") == 2 }); err != nil {
		return err
	}
	counts, err := fetchThroughSOCKS(ctx, nodes[0].socks, "http://web.meshnet.internal/", 10)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  10 requests from demo1 to http://web.meshnet.internal/ through its SOCKS5 proxy %s: demo2 %d, demo3 %d\n\n",
		nodes[0].socks, counts["demo2"], counts["demo3"])

	st := nodes[0].n.Status()
	printStatus(out, &st)
	fmt.Fprintln(out)
	printServices(out, nodes[0].n.Services())
	if counts["demo2"]+counts["demo3"] != 10 || counts["demo2"] == 0 || counts["demo3"] == 0 {
		return fmt.Errorf("demo failed: the service's answers were %v", counts)
	}
	fmt.Fprintln(out, "\nverdict: OK — 3 unprivileged nodes joined by token over an encrypted network; a service with two backends answered through its name")
	return nil
}

// startDemoNode runs node i in userspace mode on free loopback ports.
func startDemoNode(ctx context.Context, dir string, i int, token string, logger *slog.Logger) (*demoNode, error) {
	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("demo%d", i+1)
	web := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(ports[4]))
	if err := serveName(web, name); err != nil {
		return nil, err
	}
	c := config.DefaultConfig()
	c.Name, c.StateDir, c.Userspace, c.Token = name, dir+"/"+name, true, token
	c.Underlay.Address = "127.0.0.1"
	c.Underlay.VXLANPort, c.WireGuard.Port, c.Gossip.Port = ports[0], ports[1], ports[2]
	socks := netip.AddrPortFrom(web.Addr(), uint16(ports[3]))
	c.Proxy.SOCKS5, c.Proxy.HTTP = socks.String(), ""
	c.Expose = []string{fmt.Sprintf("tcp:80:%d", web.Port())}
	c.DNS.Forward = new(bool)
	c.Networks = []config.NetworkConfig{{Name: "demo"}}
	if i == 0 {
		c.Networks[0].Subnet = "10.99.0.0/24"
	}
	n, err := node.New(c, node.Options{Logger: logger})
	if err != nil {
		return nil, err
	}
	d := &demoNode{name: name, n: n, socks: socks, done: make(chan error, 1)}
	go func() { d.done <- n.Run(ctx) }()
	select {
	case <-n.Ready():
		return d, nil
	case err := <-d.done:
		d.done <- err
		return nil, fmt.Errorf("%s did not start: %w", name, err)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// demoConverge waits until every node has its address and sees the others.
func demoConverge(ctx context.Context, nodes []*demoNode) ([]netip.Addr, error) {
	addrs := make([]netip.Addr, len(nodes))
	err := waitFor(ctx, "every node to see every address", func() bool {
		for i, d := range nodes {
			st := d.n.Status()
			if len(st.Networks) != 1 || st.Networks[0].Address == "" || len(st.Networks[0].Endpoints) != len(nodes) {
				return false
			}
			addrs[i] = netip.MustParsePrefix(st.Networks[0].Address).Addr()
		}
		return true
	})
	return addrs, err
}

func healthyBackends(n *node.Node, service string) int {
	for _, s := range n.Services() {
		if s.Name == service {
			k := 0
			for _, b := range s.Backends {
				if b.Healthy {
					k++
				}
			}
			return k
		}
	}
	return 0
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, what string, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for %s", what)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// serveName answers HTTP requests on addr with name, for as long as the
// process runs.
func serveName(addr netip.AddrPort, name string) error {
	ln, err := net.Listen("tcp", addr.String())
	if err != nil {
		return err
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, name) }))
	return nil
}

// fetchThroughSOCKS fetches target count times through a SOCKS5 proxy, a
// new connection each, and counts the answers.
func fetchThroughSOCKS(ctx context.Context, proxy netip.AddrPort, target string, count int) (map[string]int, error) {
	pu, _ := url.Parse("socks5h://" + proxy.String())
	counts := map[string]int{}
	var errs []error
	for range count {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(pu), DisableKeepAlives: true}}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		resp, err := c.Do(req)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 100))
		resp.Body.Close()
		counts[strings.TrimSpace(string(b))]++
	}
	if len(errs) > 0 {
		return counts, fmt.Errorf("%d of %d requests failed: %w", len(errs), count, errors.Join(errs...))
	}
	return counts, nil
}

// freePorts returns n ports that are free for both TCP and UDP on loopback
// right now.
func freePorts(n int) ([]int, error) {
	var out []int
	for len(out) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p))
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		out = append(out, p)
	}
	return out, nil
}

// printServices prints the services table.
func printServices(w io.Writer, svcs []api.Service) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tNETWORK\tMODE\tVIP\tPORTS\tBACKENDS")
	for _, s := range svcs {
		var bs []string
		for _, b := range s.Backends {
			health := "healthy"
			if !b.Healthy {
				health = "down"
			}
			bs = append(bs, fmt.Sprintf("%s on %s (%s)", b.Addr, b.Node, health))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Network, s.Mode, orDash(s.VIP), strings.Join(s.Ports, ","), strings.Join(bs, ", "))
	}
	tw.Flush()
}
