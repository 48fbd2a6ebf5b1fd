package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"meshnet.dev/meshnet/dockerdriver"
)

func dockerPluginCmd(g *globals) *cobra.Command {
	var socket, stateDir string
	c := &cobra.Command{
		Use:   "docker-plugin",
		Short: "Serve Docker's network and IPAM plugin protocol for meshnet networks",
		Long: `Serve Docker's remote network driver and IPAM driver protocol on
/run/docker/plugins/meshnet.sock, so Docker containers join meshnet networks
(docs/CONTAINERS.md). Runs in the foreground next to the daemon, as root.`,
		Example: `  meshnet docker-plugin &
  docker network create -d meshnet --ipam-driver meshnet --ipam-opt network=red red
  docker run --rm --network red alpine ping -c 3 10.30.17.2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if stateDir == "" {
				stateDir = filepath.Join(g.stateDir, "docker")
			}
			d, err := dockerdriver.New(g.client(), dockerdriver.Netlink{}, stateDir)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(socket), 0o755); err != nil {
				return err
			}
			if err := os.Remove(socket); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			l, err := net.Listen("unix", socket)
			if err != nil {
				return fmt.Errorf("listening on %s (run as root): %w", socket, err)
			}
			defer os.Remove(socket)
			srv := &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 10 * time.Second}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			go func() {
				<-ctx.Done()
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				srv.Shutdown(sctx)
			}()
			fmt.Fprintf(g.stderr, "meshnet docker plugin listening on %s\n", socket)
			if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	c.Flags().StringVar(&socket, "plugin-socket", "/run/docker/plugins/"+dockerdriver.Name+".sock", "where Docker looks for the plugin")
	c.Flags().StringVar(&stateDir, "driver-state", "", "where the plugin keeps its Docker network table (default <state-dir>/docker)")
	return c
}
