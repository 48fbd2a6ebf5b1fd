package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func networkEndpointsCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "endpoints NAME",
		Short: "List a network's endpoints and this node's containers on it",
		Long: `List the endpoints of a network's forwarding table as this node sees them
(every node's own address, what is learned behind it, and container
endpoints), then the container endpoints this node hosts (meshnet-cni),
whether or not they are in the table yet.`,
		Example: "  meshnet network endpoints blue\n  meshnet network endpoints blue --json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			eps, err := g.client().Endpoints(ctx, args[0])
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(g.stdout, eps)
			}
			if !eps.Attached {
				fmt.Fprintf(g.stdout, "this node is not attached to network %s\n", eps.Network)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "IP\tMAC\tNODE\tCONTAINER\tIFNAME")
			for _, e := range eps.Endpoints {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", dash(e.IP), e.MAC, e.Node, dash(e.ContainerID), dash(e.IfName))
			}
			for _, c := range eps.Containers {
				if !c.Published {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s (not published yet)\n", c.Address, c.MAC, "-", c.ContainerID, c.IfName)
				}
			}
			return tw.Flush()
		},
	}
	addJSONFlag(c, g)
	return c
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
