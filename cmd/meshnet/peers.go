package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"meshnet.dev/meshnet/node/api"
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
			return list(cmd, g, (*api.Client).Peers, "NAME\tADDRESS\tSTATE\tPATH\tRTT\tNETWORKS\tPSK\tTX PKTS\tRX PKTS",
				func(p api.Peer) string {
					rtt := "-"
					if p.RTTMillis > 0 {
						rtt = fmt.Sprintf("%.2fms", p.RTTMillis)
					}
					return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d", p.Name, orDash(p.Underlay), p.State, orDash(p.Path), rtt,
						orDash(strings.Join(p.Networks, ",")), orDash(p.PSKKind), p.TxPackets, p.RxPackets)
				})
		},
	}
	addJSONFlag(c, g)
	return c
}
