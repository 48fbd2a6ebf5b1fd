package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"meshnet.dev/meshnet/node/api"
)

func serviceCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "service",
		Short: "Create services and manage their backends",
		Long: `A service has a name, a virtual IP on its network and ports. Connections to
the VIP are spread over the service's healthy backends by each sender's own
node (Maglev hashing, NAT with connection tracking); its name resolves in
meshnet's DNS on every node's overlay address (<name>.meshnet.internal).`,
		Args: cobra.NoArgs,
	}
	c.AddCommand(serviceCreateCmd(g), serviceAddBackendCmd(g), serviceRmBackendCmd(g),
		serviceLsCmd(g), serviceInspectCmd(g), serviceRmCmd(g))
	return c
}

func ctx10(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), 10*time.Second)
}

func serviceCreateCmd(g *globals) *cobra.Command {
	var req api.CreateService
	c := &cobra.Command{
		Use:   "create NAME --network NET --port 80/tcp[,53/udp] [--vip auto|IP] [--mode vip|dnsrr]",
		Short: "Define a service (on a node attached to its network)",
		Example: `  meshnet service create web --network blue --port 80/tcp
  meshnet service create dns --network blue --port 53/udp,53/tcp --vip 10.42.0.250
  meshnet service create db --network blue --port 5432/tcp --mode dnsrr`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Name = args[0]
			if req.Network == "" || req.Ports == "" {
				return usageError{fmt.Errorf("--network and --port are required")}
			}
			ctx, cancel := ctx10(cmd)
			defer cancel()
			s, err := g.client().CreateService(ctx, req)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(g.stdout, s)
			}
			fmt.Fprintf(g.stdout, "service %s created on %s: %s %s\n", s.Name, s.Network, orDash(s.VIP), strings.Join(s.Ports, ","))
			return nil
		},
	}
	c.Flags().StringVar(&req.Network, "network", "", "network the service lives on")
	c.Flags().StringVar(&req.Ports, "port", "", "ports, like 80/tcp or 53/udp,53/tcp")
	c.Flags().StringVar(&req.VIP, "vip", "auto", "virtual IP: auto or an address in the network's subnet")
	c.Flags().StringVar(&req.Mode, "mode", "vip", "vip (load-balanced VIP) or dnsrr (DNS answers every healthy backend)")
	addJSONFlag(c, g)
	return c
}

func serviceAddBackendCmd(g *globals) *cobra.Command {
	return backendCmd(g, "add-backend", "Register a backend hosted behind this node", (*api.Client).AddBackend,
		"backend %s added to %s (in service once its health check passes)\n")
}

func serviceRmBackendCmd(g *globals) *cobra.Command {
	return backendCmd(g, "rm-backend", "Withdraw a backend this node registered", (*api.Client).RemoveBackend,
		"backend %s removed from %s\n")
}

// backendCmd is `service add-backend` or `rm-backend`: call does the work
// through the control API (the client is made when the command runs, after
// --state-dir is parsed), done reports it (backend, then service).
func backendCmd(g *globals, verb, short string, call func(c *api.Client, ctx context.Context, service, backend string) error, done string) *cobra.Command {
	return &cobra.Command{
		Use:     verb + " NAME IP[:PORT]",
		Short:   short,
		Example: "  meshnet service " + verb + " web 10.42.0.7:8080",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := ctx10(cmd)
			defer cancel()
			if err := call(g.client(), ctx, args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, done, args[1], args[0])
			return nil
		},
	}
}

func serviceLsCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:     "ls",
		Short:   "List services",
		Example: "  meshnet service ls\n  meshnet service ls --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return list(cmd, g, (*api.Client).Services, "NAME\tNETWORK\tMODE\tVIP\tPORTS\tBACKENDS\tHEALTHY",
				func(s api.Service) string {
					healthy := 0
					for _, b := range s.Backends {
						if b.Healthy {
							healthy++
						}
					}
					return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%d\t%d", s.Name, s.Network, s.Mode, orDash(s.VIP),
						strings.Join(s.Ports, ","), len(s.Backends), healthy)
				})
		},
	}
	addJSONFlag(c, g)
	return c
}

func serviceInspectCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:     "inspect NAME",
		Short:   "Show a service and its backends",
		Example: "  meshnet service inspect web",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := ctx10(cmd)
			defer cancel()
			svcs, err := g.client().Services(ctx)
			if err != nil {
				return err
			}
			for _, s := range svcs {
				if s.Name != args[0] {
					continue
				}
				if g.json {
					return printJSON(g.stdout, s)
				}
				fmt.Fprintf(g.stdout, "Service %s on %s (vni %d), %s mode, VIP %s, ports %s, created by %s\n\n",
					s.Name, s.Network, s.VNI, s.Mode, orDash(s.VIP), strings.Join(s.Ports, ","), s.Origin)
				tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "BACKEND\tNODE\tHEALTHY")
				for _, b := range s.Backends {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", b.Addr, b.Node, yesNo(b.Healthy))
				}
				return tw.Flush()
			}
			return fmt.Errorf("no service called %q; see `meshnet service ls`", args[0])
		},
	}
	addJSONFlag(c, g)
	return c
}

func serviceRmCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME",
		Short:   "Remove a service everywhere",
		Example: "  meshnet service rm web",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := ctx10(cmd)
			defer cancel()
			if err := g.client().RemoveService(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "service %s removed\n", args[0])
			return nil
		},
	}
}
