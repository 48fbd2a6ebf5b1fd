package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func peersCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "peers",
		Short: "List the cluster's nodes and static peers as this node sees them",
		Long: `List the cluster's nodes and static peers as this node sees them. PSK says
where each WireGuard pair's preshared key comes from: epoch (members: derived
from the cluster's data key, rotated with it), fixed (a static peer's
preshared_key_file, never rotated) or none (a static peer without one).`,
		Example: "  meshnet peers\n  meshnet peers --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
			defer cancel()
			peers, err := g.client().Peers(ctx)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(g.stdout, peers)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tADDRESS\tSTATE\tRTT\tNETWORKS\tPSK\tTX PKTS\tRX PKTS")
			for _, p := range peers {
				rtt := "-"
				if p.RTTMillis > 0 {
					rtt = fmt.Sprintf("%.2fms", p.RTTMillis)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\n", p.Name, orDash(p.Underlay), p.State, rtt,
					orDash(strings.Join(p.Networks, ",")), orDash(p.PSKKind), p.TxPackets, p.RxPackets)
			}
			return tw.Flush()
		},
	}
	addJSONFlag(c, g)
	return c
}
