package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"meshnet.dev/meshnet/node"
)

func upCmd(g *globals) *cobra.Command {
	var cfgPath string
	c := &cobra.Command{
		Use:   "up -c FILE",
		Short: "Run a meshnet node in the foreground",
		Long: `Run a meshnet node in the foreground until SIGINT or SIGTERM.

On exit the node removes its devices, routes and control socket.`,
		Example: `  meshnet up -c /etc/meshnet/meshnet.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfgPath == "" {
				return usageError{errMissingConfig}
			}
			cfg, err := node.LoadConfig(cfgPath)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("state-dir") {
				cfg.StateDir = g.stateDir
			}
			n, err := node.New(cfg, node.Options{})
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return n.Run(ctx)
		},
	}
	c.Flags().StringVarP(&cfgPath, "config", "c", "", "configuration file (YAML)")
	return c
}
