package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"meshnet.dev/meshnet/node/api"
)

func pingCmd(g *globals) *cobra.Command {
	var count int
	c := &cobra.Command{
		Use:   "ping NODE|IP",
		Short: "Ping a node or overlay address and show the path",
		Long: `Show how the overlay reaches NODE (a node name) or IP (an overlay address):
the network, the node behind it, its underlay address, whether the path is
encrypted and when WireGuard last handshook, then ping it over the overlay.`,
		Example: "  meshnet ping node2\n  meshnet ping 10.42.0.7 -c 10",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Duration(count)*time.Second+10*time.Second)
			defer cancel()
			r, err := g.client().Ping(ctx, api.PingRequest{Target: args[0], Count: count})
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(g.stdout, r)
			}
			printPing(g, r)
			if r.Received == 0 {
				return fmt.Errorf("no reply from %s", r.Address)
			}
			return nil
		},
	}
	c.Flags().IntVarP(&count, "count", "c", 5, "echo requests to send")
	addJSONFlag(c, g)
	return c
}

func printPing(g *globals, r api.PingResult) {
	path := "plain VXLAN"
	if r.Encrypted {
		path = "encrypted (WireGuard"
		if r.Handshake.IsZero() {
			path += ", no handshake yet)"
		} else {
			path += fmt.Sprintf(", last handshake %s ago)", time.Since(r.Handshake).Round(time.Second))
		}
	}
	fmt.Fprintf(g.stdout, "PING %s (%s) on network %s: node %s, direct to %s, %s\n", r.Target, r.Address, r.Network,
		orDash(r.Node), orDash(r.Underlay), path)
	fmt.Fprintf(g.stdout, "%d/%d replies", r.Received, r.Sent)
	if len(r.RTTsMs) > 0 {
		sum := 0.0
		for _, v := range r.RTTsMs {
			sum += v
		}
		fmt.Fprintf(g.stdout, ", rtt min/avg/max %.3f/%.3f/%.3f ms", slices.Min(r.RTTsMs), sum/float64(len(r.RTTsMs)), slices.Max(r.RTTsMs))
	}
	fmt.Fprintln(g.stdout)
}
