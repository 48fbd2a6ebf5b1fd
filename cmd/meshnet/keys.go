package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"meshnet.dev/meshnet/node/keysync"
)

func initCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Start a new cluster: create its admin key and first keys",
		Long: `Start a new cluster in the state directory: a node key, the cluster's admin
key, the first gossip keyring and data-key epoch. The node that ran init is
an admin node: it issues join tokens (meshnet token), rotates keys and
evicts nodes. A first 'meshnet up' without --join or a token runs init by
itself.`,
		Example: "  meshnet init --state-dir /var/lib/meshnet",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			id, err := keysync.InitCluster(g.stateDir)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "cluster %s created in %s\nstart the node with `meshnet up`, then hand out join tokens with `meshnet token`\n", id, g.stateDir)
			return nil
		},
	}
}

func tokenCmd(g *globals) *cobra.Command {
	var ttl time.Duration
	c := &cobra.Command{
		Use:   "token [--ttl DURATION]",
		Short: "Print a join token for a new node (admin nodes only)",
		Long: `Print a join token: the cluster id, this node's address, the admin public key
and the current gossip keys, signed by the admin key. A new node joins with
'meshnet up --token-file FILE' (or piped: --token -). The token is a secret until it expires; keep its
lifetime short (it stops working after two key rotations anyway).`,
		Example: "  meshnet token --ttl 30m",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			tok, err := g.client().Token(ctx, ttl)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(g.stdout, tok)
			}
			fmt.Fprintln(g.stdout, tok.Token)
			fmt.Fprintf(g.stderr, "valid until %s\n", tok.Expires.Local().Format(time.RFC1123))
			return nil
		},
	}
	c.Flags().DurationVar(&ttl, "ttl", time.Hour, "how long the token is valid")
	addJSONFlag(c, g)
	return c
}

func keysCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "keys",
		Short: "Manage the cluster's keys",
		Args:  cobra.NoArgs,
	}
	var nodeKey bool
	rotate := &cobra.Command{
		Use:   "rotate [--node]",
		Short: "Rotate the cluster keys now (admin), or this node's identity key",
		Long: `Rotate the gossip keyring and the data-key epoch now, as the schedule would
(admin nodes only). With --node, replace this node's own identity key
instead; peers learn the new public key by gossip.`,
		Example: "  meshnet keys rotate\n  meshnet keys rotate --node",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			if err := g.client().RotateKeys(ctx, nodeKey); err != nil {
				return err
			}
			if nodeKey {
				fmt.Fprintln(g.stdout, "node key rotated")
			} else {
				fmt.Fprintln(g.stdout, "cluster key rotation started")
			}
			return nil
		},
	}
	rotate.Flags().BoolVar(&nodeKey, "node", false, "rotate this node's identity key")
	c.AddCommand(rotate)
	return c
}

func evictCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "evict NODE",
		Short: "Remove a node from the cluster for good (admin nodes only)",
		Long: `Evict a node: every node drops it from WireGuard at once and refuses it as a
member, and the cluster keys are rotated without it, so it can read and
inject nothing afterwards. NODE is a node name or a node public key.`,
		Example: "  meshnet evict laptop-7",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			if err := g.client().Evict(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%s evicted; keys are being rotated\n", args[0])
			return nil
		},
	}
}
