package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"meshnet.dev/meshnet/node"
	"meshnet.dev/meshnet/node/config"
)

// upFlags are the settings `meshnet up` takes on the command line; they
// override the config file.
type upFlags struct {
	config    string
	name      string
	join      []string
	networks  []string
	mode      string
	underlay  string
	port      int
	gossip    int
	logLevel  string
	token     string // --token: the token, or "-" for standard input
	tokenFile string
	user      bool
	forwards  []string
	exposes   []string
	socks5    string
	http      string
	device    string
	detach    bool

	// What resolveToken found, read once so a reload does not read
	// standard input again.
	tokenValue string
	tokenFrom  tokenSource
}

func upCmd(g *globals) *cobra.Command {
	var f upFlags
	c := &cobra.Command{
		Use:   "up [-c FILE] [--join ADDR,...] [--network NAME[=IP],...]",
		Short: "Run a meshnet node in the foreground",
		Long: `Run a meshnet node in the foreground until SIGINT or SIGTERM.

The node joins the cluster through any of the --join addresses (retrying
until one answers) and attaches to each --network as soon as the cluster
defines it, taking an address from the network's subnet unless one is
given as NAME=IP. On exit it leaves the cluster and removes its devices,
routes and control socket. SIGHUP re-reads the configuration and applies
what can change live (log level, metrics, rotation interval, networks).
With -d it runs in the background; 'meshnet down' stops it.`,
		Example: `  # first node: start a cluster and define a network
  meshnet up -c /etc/meshnet/meshnet.yaml

  # any other node, the first time: join with a token (from meshnet token
  # on the first node, saved in a file only you can read) and attach to
  # "blue"
  meshnet up --token-file token --network blue

  # the token piped in, never written down
  ssh node1 meshnet token | meshnet up -d --token - --network blue

  # a member restarting: its keys are in the state directory
  meshnet up --join 192.0.2.10 --network blue

  # with a static address on blue
  meshnet up --token-file token --network blue=10.42.0.7

  # unprivileged, in a userspace stack, with a SOCKS5 proxy on 127.0.0.1:1080
  meshnet up --userspace --token-file token --network blue --expose tcp:8080

A token is a secret: pass it with --token-file, --token - (standard input)
or the MESHNET_TOKEN environment variable, never as --token TOKEN, which
other users can read in ps until meshnet hides it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if f.tokenValue, f.tokenFrom, err = f.resolveToken(cmd.InOrStdin()); err != nil {
				return err
			}
			cfg, err := f.toConfig(cmd, g)
			if err != nil {
				return err
			}
			if f.detach {
				return startDetached(g, cfg.StateDir, f.tokenValue)
			}
			n, err := node.New(cfg, node.Options{})
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			go func() {
				for range hup {
					// Re-read the file and flags; the node applies what can
					// change live and logs what needs a restart.
					cfg, err := f.toConfig(cmd, g)
					if err == nil {
						err = n.Reload(cfg)
					}
					if err != nil {
						fmt.Fprintln(g.stderr, "meshnet: reload:", err)
					}
				}
			}()
			return n.Run(ctx)
		},
	}
	fl := c.Flags()
	fl.StringVarP(&f.config, "config", "c", "", "configuration file (YAML); flags override it")
	fl.BoolVarP(&f.detach, "detach", "d", false, "run in the background (log in <state-dir>/meshnet.log); stop with meshnet down")
	fl.StringVar(&f.name, "name", "", "node name (default: host name)")
	fl.StringSliceVar(&f.join, "join", nil, "gossip address(es) of cluster nodes, IP or IP:port")
	fl.StringSliceVar(&f.networks, "network", nil, "network(s) to attach to, NAME or NAME=IP")
	fl.StringVar(&f.mode, "mode", "", "device mode: tap or tun")
	fl.StringVar(&f.underlay, "advertise", "", "underlay address peers reach this node on")
	fl.IntVar(&f.port, "vxlan-port", 0, "UDP port for VXLAN (default 4789)")
	fl.IntVar(&f.gossip, "gossip-port", 0, "gossip port (default 7946)")
	fl.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error")
	fl.StringVar(&f.token, "token", "", "join token from meshnet token; \"-\" reads it from standard input (a token itself here is visible in ps)")
	fl.StringVar(&f.tokenFile, "token-file", "", "read the join token from `FILE` (keep it mode 0600)")
	fl.StringVar(&f.device, "device", "", "run the (single) network on the existing device `NAME` (see meshnet device create)")
	fl.BoolVar(&f.user, "userspace", false, "run networks in an unprivileged userspace stack (no root, no TAP/TUN)")
	fl.StringArrayVar(&f.forwards, "forward", nil, "userspace: relay a local port into the overlay, tcp:LOCALPORT:NAME_OR_IP:PORT (or udp:)")
	fl.StringArrayVar(&f.exposes, "expose", nil, "userspace: make a local service reachable on the overlay, tcp:PORT or tcp:OVERLAYPORT:LOCALPORT")
	fl.StringVar(&f.socks5, "socks5", "", "userspace: SOCKS5 proxy address (default 127.0.0.1:1080; \"off\" to disable)")
	fl.StringVar(&f.http, "http-proxy", "", "userspace: HTTP CONNECT proxy address (default 127.0.0.1:3128; \"off\" to disable)")
	return c
}

// config_ loads the config file (if any) and applies the flags.
func (f *upFlags) toConfig(cmd *cobra.Command, g *globals) (config.Config, error) {
	cfg := config.DefaultConfig()
	if f.config != "" {
		var err error
		if cfg, err = config.LoadConfig(f.config); err != nil {
			return cfg, err
		}
	}
	set := cmd.Flags().Changed
	if set("state-dir") || f.config == "" {
		cfg.StateDir = g.stateDir
	}
	if f.name != "" {
		cfg.Name = f.name
	}
	if set("join") {
		cfg.Join = f.join
	}
	for _, spec := range f.networks {
		name, addr, _ := strings.Cut(spec, "=")
		if name == "" {
			return cfg, usageError{fmt.Errorf("--network %q: expected NAME or NAME=IP", spec)}
		}
		cfg.Networks = mergeNetwork(cfg.Networks, config.NetworkConfig{Name: name, Address: addr})
	}
	if f.mode != "" {
		cfg.Mode = f.mode
	}
	if f.device != "" {
		if len(cfg.Networks) != 1 {
			return cfg, usageError{fmt.Errorf("--device needs exactly one network (--network NAME)")}
		}
		cfg.Networks[0].Device = f.device
	}
	if f.underlay != "" {
		cfg.Underlay.Address = f.underlay
	}
	if f.port != 0 {
		cfg.Underlay.VXLANPort = f.port
	}
	if f.gossip != 0 {
		cfg.Gossip.Port = f.gossip
	}
	if f.logLevel != "" {
		cfg.Log.Level = f.logLevel
	}
	switch f.tokenFrom {
	case tokenFile:
		cfg.Token, cfg.TokenFile = "", f.tokenFile
	case tokenValue:
		cfg.Token, cfg.TokenFile = f.tokenValue, ""
	}
	if f.user {
		cfg.Userspace = true
	}
	cfg.Forward = append(cfg.Forward, f.forwards...)
	cfg.Expose = append(cfg.Expose, f.exposes...)
	for _, p := range []struct {
		flag string
		dst  *string
	}{{f.socks5, &cfg.Proxy.SOCKS5}, {f.http, &cfg.Proxy.HTTP}} {
		switch p.flag {
		case "":
		case "off":
			*p.dst = ""
		default:
			*p.dst = p.flag
		}
	}
	return cfg, nil
}

// mergeNetwork adds n, or sets the address of the entry with its name.
func mergeNetwork(nets []config.NetworkConfig, n config.NetworkConfig) []config.NetworkConfig {
	for i := range nets {
		if nets[i].Name == n.Name {
			if n.Address != "" {
				nets[i].Address = n.Address
			}
			return nets
		}
	}
	return append(nets, n)
}
