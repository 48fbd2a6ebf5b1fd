package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"meshnet.dev/meshnet/node/api"
)

func networkCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "network",
		Short: "Create, join and leave networks",
		Args:  cobra.NoArgs,
	}
	c.AddCommand(networkCreateCmd(g), networkJoinCmd(g), networkLeaveCmd(g), networkEndpointsCmd(g))
	return c
}

func networkCreateCmd(g *globals) *cobra.Command {
	var req api.CreateNetwork
	var vni uint32
	var encrypted bool
	c := &cobra.Command{
		Use:   "create NAME --subnet CIDR [--vni N] [--encrypted=false]",
		Short: "Define a network for the whole cluster",
		Long: `Define a network for the whole cluster. Any node may create it; it is known
everywhere within a few gossip rounds. If another node defines the same
name or VNI at the same moment, one definition wins on every node and the
other creator is told.`,
		Example: `  meshnet network create blue --subnet 10.42.0.0/24
  meshnet network create lab --subnet fd42::/64 --vni 5000`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Name, req.VNI, req.Encrypted = args[0], vni, encrypted
			if req.Subnet == "" {
				return usageError{fmt.Errorf("missing --subnet CIDR")}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			out, err := g.client().CreateNetwork(ctx, req)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(g.stdout, out)
			}
			fmt.Fprintf(g.stdout, "network %s created: vni %d, subnet %s\n", out.Name, out.VNI, out.Subnet)
			return nil
		},
	}
	c.Flags().StringVar(&req.Subnet, "subnet", "", "the network's IPv4 or IPv6 prefix")
	c.Flags().Uint32Var(&vni, "vni", 0, "VXLAN network identifier (default: derived from the name)")
	c.Flags().BoolVar(&encrypted, "encrypted", true, "carry the network only over the encrypted transport (--encrypted=false for plain VXLAN on trusted underlays)")
	addJSONFlag(c, g)
	return c
}

func networkJoinCmd(g *globals) *cobra.Command {
	var addr string
	c := &cobra.Command{
		Use:     "join NAME [--addr IP]",
		Short:   "Attach this node to a network",
		Example: "  meshnet network join blue\n  meshnet network join blue --addr 10.42.0.9",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			if err := g.client().JoinNetwork(ctx, args[0], api.JoinNetwork{Address: addr}); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "joining network %s\n", args[0])
			return nil
		},
	}
	c.Flags().StringVar(&addr, "addr", "", "static address on the network (default: from IPAM)")
	return c
}

func networkLeaveCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "leave NAME",
		Short:   "Detach this node from a network",
		Example: "  meshnet network leave blue",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			if err := g.client().LeaveNetwork(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "leaving network %s\n", args[0])
			return nil
		},
	}
}

func networksCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:     "networks",
		Short:   "List the cluster's networks",
		Example: "  meshnet networks\n  meshnet networks --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return list(cmd, g, (*api.Client).Networks, "NAME\tVNI\tSUBNET\tENCRYPTED\tMEMBERS\tENDPOINTS\tATTACHED\tCREATED BY",
				func(n api.ClusterNetwork) string {
					eps := "-"
					if n.Attached {
						eps = fmt.Sprint(n.Endpoints)
					}
					return fmt.Sprintf("%s\t%d\t%s\t%s\t%d\t%s\t%s\t%s", n.Name, n.VNI, n.Subnet, yesNo(n.Encrypted),
						len(n.Members), eps, yesNo(n.Attached), n.Origin)
				})
		},
	}
	addJSONFlag(c, g)
	return c
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
