package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"meshnet.dev/meshnet/e2e/netlab"
)

// env is what subjects share: the two hosts, the binaries, a log.
type env struct {
	opts options
	lab  *netlab.Lab
	a, b *netlab.Host
	log  io.Writer // every command, when verbose
	tmp  string    // the harness's own scratch directory

	progressOut io.Writer // one line per step

	meshnet    string // meshnet binary, once built or found
	meshnetErr error
	profiles   int // meshnet CPU profiles named so far (--profile)
}

// run runs a command inside host h, bounded by ctx, and returns its
// combined output.
func (e *env) run(ctx context.Context, h *netlab.Host, name string, args ...string) (string, error) {
	fmt.Fprintf(e.log, "+ [%s] %s %s\n", h.Name, name, strings.Join(args, " "))
	out, err := h.Command(ctx, name, args...).CombinedOutput()
	if err != nil {
		if ctx.Err() != nil {
			return string(out), fmt.Errorf("[%s] %s: %w", h.Name, name, ctx.Err())
		}
		return string(out), fmt.Errorf("[%s] %s %s: %w: %s", h.Name, name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// runAll runs each command in h in turn and stops at the first error.
func (e *env) runAll(ctx context.Context, h *netlab.Host, cmds [][]string) error {
	for _, c := range cmds {
		if _, err := e.run(ctx, h, c[0], c[1:]...); err != nil {
			return err
		}
	}
	return nil
}

// meshnetBinary returns the meshnet binary to run: --meshnet, or one built
// from this checkout the first time it is asked for.
func (e *env) meshnetBinary(ctx context.Context) (string, error) {
	if e.meshnet != "" || e.meshnetErr != nil {
		return e.meshnet, e.meshnetErr
	}
	if e.opts.Meshnet != "" {
		p, err := filepath.Abs(e.opts.Meshnet)
		if err == nil {
			_, err = os.Stat(p)
		}
		if err != nil {
			e.meshnetErr = fmt.Errorf("--meshnet %s: %w (build it with make build, or leave --meshnet out to build one)", e.opts.Meshnet, err)
		}
		e.meshnet = p
		return e.meshnet, e.meshnetErr
	}
	out := filepath.Join(e.tmp, "meshnet")
	e.progress("building meshnet (go build ./cmd/meshnet)")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "meshnet.dev/meshnet/cmd/meshnet")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // static, as make build makes it
	if b, err := cmd.CombinedOutput(); err != nil {
		e.meshnetErr = fmt.Errorf("building meshnet: %w\n%s", err, b)
		return "", e.meshnetErr
	}
	e.meshnet = out
	return out, nil
}

// progress reports a step of the run.
func (e *env) progress(format string, args ...any) {
	fmt.Fprintf(e.progressOut, "["+time.Now().Format("15:04:05")+"] "+format+"\n", args...)
}

// runID is the lab's random suffix (6 hex digits): names outside the
// namespaces, such as UAPI sockets, carry it so concurrent runs never clash.
func (e *env) runID() string { return e.lab.Prefix[len(e.lab.Prefix)-6:] }

// hostPair returns host A and host B.
func (e *env) hostPair() [2]*netlab.Host { return [2]*netlab.Host{e.a, e.b} }
