package node

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"

	"meshnet.dev/meshnet/tun"
)

// startProfile starts writing a CPU profile to performance.cpu_profile,
// if set, and returns the function that finishes it (a no-op otherwise).
// It is Run's first step, so its finish runs last and the profile covers
// the daemon's whole life; a profile is complete only once the daemon has
// exited cleanly (SIGINT or SIGTERM).
func (n *Node) startProfile(context.Context) (func(), error) {
	path := n.spec.Perf.CPUProfile
	if path == "" {
		return func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("performance.cpu_profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("performance.cpu_profile %s: %w", path, err)
	}
	n.log.Info("writing a CPU profile until exit", "file", path)
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			n.log.Warn("finishing the CPU profile", "file", path, "err", err)
		}
	}, nil
}

// logOffloads says which offloads a kernel device got, so an operator can
// tell whether a slow node runs without them.
func (n *Node) logOffloads(dev any, name string) {
	if d, ok := dev.(interface{ Offloads() tun.Offloads }); ok {
		n.log.Info("device offloads", "device", name, "offloads", d.Offloads().String())
	}
}
