package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"meshnet.dev/meshnet/node"
	"meshnet.dev/meshnet/node/api"
)

// startDetached re-runs `meshnet up` without -d in a new session, with its
// output appended to <state-dir>/meshnet.log, and returns once the daemon
// answers on its control socket (or has failed). A join token read from
// the command line, standard input or the environment reaches the daemon
// on a pipe (--token -), never in its argv.
func startDetached(g *globals, stateDir, token string) error {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return err
	}
	logPath := filepath.Join(stateDir, "meshnet.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	args := daemonArgs(os.Args[1:], token != "")
	cmd := exec.Command(self, args...)
	cmd.Stdout, cmd.Stderr, cmd.Stdin = logf, logf, nil
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if token != "" {
		cmd.Stdin = strings.NewReader(token + "\n")
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	client := api.NewClient(filepath.Join(stateDir, api.SocketName))
	deadline := time.After(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := client.Status(ctx)
		cancel()
		if err == nil && st.Node.PID == cmd.Process.Pid {
			fmt.Fprintf(g.stdout, "meshnet %s running in the background (pid %d), log %s\n", st.Node.Name, st.Node.PID, logPath)
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("the daemon exited (%v); see %s", err, logPath)
		case <-deadline:
			return fmt.Errorf("the daemon (pid %d) did not come up within 30 s; see %s", cmd.Process.Pid, logPath)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// daemonArgs are the arguments of the detached daemon: those of `up -d`
// without -d and, when the token goes on a pipe, without the token flags,
// plus --token -.
func daemonArgs(args []string, tokenOnPipe bool) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-d" || a == "--detach" || a == "--detach=true":
		case tokenOnPipe && (a == "--token" || a == "--token-file"):
			i++ // and its value
		case tokenOnPipe && (strings.HasPrefix(a, "--token=") || strings.HasPrefix(a, "--token-file=")):
		default:
			out = append(out, a)
		}
	}
	if tokenOnPipe {
		out = append(out, "--token", "-")
	}
	return out
}

func downCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Stop the running daemon",
		Long: `Stop the daemon (as SIGTERM would): it leaves the cluster, so others
delete its entries at once, and removes its devices and sockets.`,
		Example: "  meshnet down\n  meshnet down --state-dir /tmp/node2",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			c := g.client()
			st, err := c.Status(ctx)
			if err != nil {
				return err
			}
			if err := c.Do(ctx, "POST", "/v1/shutdown", nil, nil); err != nil {
				return err
			}
			// Done when the daemon has released its state lock, which it
			// does last: its ports and devices are free for a new `up`.
			// Without access to the lock file, the socket going is the sign.
			for {
				inUse, err := node.StateDirInUse(g.stateDir)
				if err != nil {
					_, serr := os.Stat(g.socketPath())
					inUse = !errors.Is(serr, os.ErrNotExist)
				}
				if !inUse {
					fmt.Fprintf(g.stdout, "meshnet %s (pid %d) stopped\n", st.Node.Name, st.Node.PID)
					return nil
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("the daemon (pid %d) is still shutting down", st.Node.PID)
				case <-time.After(50 * time.Millisecond):
				}
			}
		},
	}
}
