package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"meshnet.dev/meshnet/node/api"
)

func statusCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "status",
		Short: "Show the running node, its networks, peers and counters",
		Example: `  meshnet status
  meshnet status --json | jq '.networks[].counters'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
			defer cancel()
			st, err := g.client().Status(ctx)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(g.stdout, st)
			}
			printStatus(g.stdout, st)
			return nil
		},
	}
	addJSONFlag(c, g)
	return c
}

// list fetches what a listing command shows, through the control API, and
// prints it as JSON with --json, otherwise as a table: header, then one
// line a row.
func list[T any](cmd *cobra.Command, g *globals, fetch func(*api.Client, context.Context) ([]T, error), header string, row func(T) string) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
	defer cancel()
	items, err := fetch(g.client(), ctx)
	if err != nil {
		return err
	}
	if g.json {
		return printJSON(g.stdout, items)
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, it := range items {
		fmt.Fprintln(tw, row(it))
	}
	return tw.Flush()
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printStatus(w io.Writer, st *api.Status) {
	n := st.Node
	fmt.Fprintf(w, "Node %s  (meshnet %s, pid %d, %s mode, up %s)\n", n.Name, n.Version, n.PID, n.Mode,
		time.Duration(n.UptimeSeconds)*time.Second)
	fmt.Fprintf(w, "Underlay %s, gossip port %d, %d cluster members\n", orDash(n.Underlay), n.GossipPort, n.Members)
	if r := n.Reachability; r != nil {
		fmt.Fprintf(w, "Reachability: %s\n", r.Summary)
	}
	fmt.Fprintln(w)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NETWORK\tVNI\tSUBNET\tADDRESS\tDEVICE\tMTU\tMEMBERS\tENDPOINTS\tTX PKTS\tRX PKTS\tDROPS")
	for _, nw := range st.Networks {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", nw.Name, nw.VNI, nw.Subnet, nw.Address,
			nw.Device, nw.MTU, len(nw.Members), len(nw.Endpoints), nw.Counters.TxPackets, nw.Counters.RxPackets,
			dropSummary(nw.Counters.Drops))
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tUNDERLAY\tSTATE\tNETWORKS\tTX PKTS\tTX BYTES\tRX PKTS\tRX BYTES")
	for _, p := range st.Peers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\n", p.Name, orDash(p.Underlay), p.State, orDash(strings.Join(p.Networks, ",")),
			p.TxPackets, p.TxBytes, p.RxPackets, p.RxBytes)
	}
	tw.Flush()
	for _, w8 := range st.Waiting {
		fmt.Fprintf(w, "\nWaiting for network %s to be defined (meshnet network create %s --subnet CIDR)\n", w8, w8)
	}
	for _, w8 := range st.WaitingKeys {
		fmt.Fprintf(w, "\nWaiting for the cluster keys to attach encrypted network %s (the admin node grants them once it sees this node)\n", w8)
	}
	for _, c := range st.Conflicts {
		fmt.Fprintf(w, "\nCONFLICT: %s\n", c)
	}
	for _, p := range st.StaticPeers {
		fmt.Fprintf(w, "\nSTATIC PEER: %s\n", p)
	}
	for _, d := range st.Duplicates {
		fmt.Fprintf(w, "\nDUPLICATE ADDRESS %s on %s: used by %s, also claimed by %s\n", d.IP, d.Network, d.Winner, strings.Join(d.Losers, ","))
	}
	if len(st.Drops) > 0 {
		fmt.Fprintf(w, "\nDropped before reaching a network: %s\n", dropSummary(st.Drops))
	}
}

func dropSummary(m map[string]uint64) string {
	if len(m) == 0 {
		return "0"
	}
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
