package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"meshnet.dev/meshnet/node/api"
)

// Exit codes, documented in docs/CLI.md.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed
	exitUsage   = 2 // wrong arguments or flags
)

// usageError marks errors in how the command was called.
type usageError struct{ error }

// globals are the flags every command shares.
type globals struct {
	stateDir string
	socket   string
	json     bool
	stdout   io.Writer
	stderr   io.Writer
}

// socketPath is where the daemon's control socket is.
func (g *globals) socketPath() string {
	if g.socket != "" {
		return g.socket
	}
	return filepath.Join(g.stateDir, api.SocketName)
}

func (g *globals) client() *api.Client { return api.NewClient(g.socketPath()) }

// run executes the CLI and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	root := newRoot(g)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "meshnet:", err)
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		fmt.Fprintln(stderr)
		fmt.Fprint(stderr, cmd.UsageString())
		return exitUsage
	}
	return exitFailure
}

// newRoot builds the command tree.
func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "meshnet",
		Short:         "meshnet connects hosts into private L2 overlay networks",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	defaultState := os.Getenv("MESHNET_STATE_DIR")
	if defaultState == "" {
		defaultState = "/var/lib/meshnet"
	}
	root.PersistentFlags().StringVar(&g.stateDir, "state-dir", defaultState, "daemon state directory (env MESHNET_STATE_DIR)")
	root.PersistentFlags().StringVar(&g.socket, "socket", "", "control socket (default <state-dir>/"+api.SocketName+")")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(upCmd(g), downCmd(g), initCmd(g), dockerPluginCmd(g), tokenCmd(g), statusCmd(g), peersCmd(g), peerCmd(g), networksCmd(g), networkCmd(g),
		serviceCmd(g), keysCmd(g), evictCmd(g), deviceCmd(g), doctorCmd(g), pingCmd(g), demoCmd(g), versionCmd(g))

	return root
}

// isCobraUsage recognises cobra's own argument errors (unknown command,
// wrong number of arguments).
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "unknown flag", "unknown shorthand",
		"invalid argument", "flag needs an argument", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// addJSONFlag adds --json to a command that prints tables.
func addJSONFlag(c *cobra.Command, g *globals) {
	c.Flags().BoolVar(&g.json, "json", false, "print JSON for scripts instead of tables")
}
