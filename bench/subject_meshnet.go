package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"meshnet.dev/meshnet/e2e/netlab"
	"meshnet.dev/meshnet/node/config"
)

// meshnet subjects: a two-node cluster, node B joining node A, one network
// carrying the traffic.
const (
	meshnetNetwork  = "bench"
	meshnetConverge = 60 * time.Second // as the end-to-end tests allow
	meshnetStopMax  = 10 * time.Second
)

// meshnetPlainSubject runs meshnet with plain VXLAN in mode "tap" or "tun".
func meshnetPlainSubject(mode string) *subject {
	return &subject{
		Name:  "meshnet-" + mode,
		Title: "meshnet " + strings.ToUpper(mode),
		Check: checkMeshnet,
		Start: func(ctx context.Context, e *env) (*session, error) {
			return startMeshnetPair(ctx, e, mode, false)
		},
	}
}

func checkMeshnet(ctx context.Context, e *env) error {
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return notAvailable("no /dev/net/tun on this machine")
	}
	_, err := e.meshnetBinary(ctx)
	return err
}

// startMeshnetPair starts node A, which defines the network, then node B,
// which joins the cluster through A (with a join token when the build has
// them), and waits until both see each other's endpoint.
func startMeshnetPair(ctx context.Context, e *env, mode string, encrypted bool) (*session, error) {
	bin, err := e.meshnetBinary(ctx)
	if err != nil {
		return nil, err
	}
	tokens := meshnetHasCommand(ctx, bin, "token")
	var u undo
	var nodes []*netlab.Meshnet
	fail := func(err error) (*session, error) {
		for _, m := range nodes {
			err = fmt.Errorf("%w\n--- end of meshnet's log on %s ---\n%s", err, m.Host.Name, tail(m.Proc.Output(), 15))
		}
		u.run()
		return nil, fmt.Errorf("meshnet %s: %w", mode, err)
	}
	var token string
	for i, h := range e.hostPair() {
		c := config.DefaultConfig()
		// Unique per run: the node name also names its WireGuard UAPI
		// socket, in a directory every namespace shares.
		c.Name, c.Mode = meshnetNodeName(e, h), mode
		// A fresh state directory per subject: no identity, lock or
		// address claim carries over from the previous one.
		c.StateDir = filepath.Join(h.Dir, stateDirName(mode, encrypted))
		c.Networks = []config.NetworkConfig{{Name: meshnetNetwork}}
		profile, err := e.profilePath(mode, encrypted, h)
		if err != nil {
			return fail(err)
		}
		c.Performance.CPUProfile = profile
		if profile != "" {
			c.Performance.HeapProfile = strings.TrimSuffix(profile, ".pprof") + ".heap.pprof"
		}
		if i == 1 && !tokens {
			c.Join = []string{e.a.Addr.String()}
		}
		if i == 1 && tokens {
			// As users are told: the token in a file only root reads,
			// never on the command line.
			c.TokenFile = filepath.Join(h.Dir, "token-"+stateDirName(mode, encrypted))
			if err := os.WriteFile(c.TokenFile, []byte(token+"\n"), 0o600); err != nil {
				return fail(err)
			}
		}
		m, err := h.StartMeshnet(bin, c)
		if m != nil && m.Proc != nil {
			u.add(func() error { return stopMeshnet(m) })
		}
		if err != nil {
			return fail(err)
		}
		nodes = append(nodes, m)
		if i > 0 {
			continue
		}
		// The network is created the way users do it, and with the
		// encryption setting spelled out, so a changed default cannot
		// silently change what is measured.
		if out, err := m.CLI("network", "create", meshnetNetwork, "--subnet", overlaySubnet(meshnetSubnet).String(),
			fmt.Sprintf("--encrypted=%t", encrypted)); err != nil {
			return fail(fmt.Errorf("%w\n%s", err, out))
		}
		if tokens {
			if token, err = meshnetJoinToken(ctx, m); err != nil {
				return fail(err)
			}
		}
	}
	var dst netip.Addr
	var mtu int
	for i, m := range nodes {
		st, err := m.WaitNetworks(meshnetConverge, meshnetNetwork)
		if err != nil {
			return fail(err)
		}
		if err := m.WaitEndpoints(meshnetConverge, meshnetNetwork, len(nodes)); err != nil {
			return fail(err)
		}
		for _, n := range st.Networks {
			if n.Name != meshnetNetwork {
				continue
			}
			if n.Encrypted != encrypted {
				return fail(fmt.Errorf("network %s is encrypted=%t on %s, want %t", n.Name, n.Encrypted, m.Host.Name, encrypted))
			}
			if i == 1 {
				p, err := netip.ParsePrefix(n.Address)
				if err != nil {
					return fail(fmt.Errorf("%s reports address %q on %s: %w", m.Host.Name, n.Address, n.Name, err))
				}
				dst, mtu = p.Addr(), n.MTU
			}
		}
	}
	procs := []*netlab.Proc{nodes[0].Proc, nodes[1].Proc}
	verify := func(moved int64) error {
		return verifyTransport(nodes[0], meshnetNodeName(e, nodes[1].Host), encrypted, moved)
	}
	return &session{Dst: dst, MTU: mtu, Procs: procs, Stop: u.run, Verify: verify}, nil
}

// verifyTransport checks on node A that the bytes sent to B went over the
// encrypted transport when the network is encrypted, and around it when
// it is not, so no figure is filed under the wrong mode.
func verifyTransport(a *netlab.Meshnet, peer string, encrypted bool, moved int64) error {
	st, err := a.Status()
	if err != nil {
		return err
	}
	for _, p := range st.Peers {
		if p.Name != peer {
			continue
		}
		// WireGuard counts ciphertext, which is more than what the
		// receivers got; half of it is a margin, not an estimate.
		wg := int64(p.WGTxBytes)
		switch {
		case encrypted && wg < moved/2:
			return fmt.Errorf("the encrypted network sent only %d bytes over WireGuard to %s while iperf3 moved %d", wg, peer, moved)
		case !encrypted && wg > moved/10:
			return fmt.Errorf("the plain network sent %d bytes over WireGuard to %s while iperf3 moved %d; the figures are not plain VXLAN", wg, peer, moved)
		}
		return nil
	}
	return fmt.Errorf("%s does not list %s among its peers", a.Host.Name, peer)
}

// profilePath names the CPU profile of host h's node for --profile (""
// without it): <mode>[-enc]-<host>-<n>.pprof, n counting up through the
// run, so every round keeps its own. The heap profile at the node's peak
// goes beside it as <...>.heap.pprof.
func (e *env) profilePath(mode string, encrypted bool, h *netlab.Host) (string, error) {
	if e.opts.Profile == "" {
		return "", nil
	}
	if err := os.MkdirAll(e.opts.Profile, 0o755); err != nil {
		return "", fmt.Errorf("--profile: %w", err)
	}
	e.profiles++
	return filepath.Join(e.opts.Profile, fmt.Sprintf("%s-%s-%d.pprof", stateDirName(mode, encrypted), h.Name, e.profiles)), nil
}

// meshnetNodeName names host h's node, "a-<run id>" or "b-<run id>".
func meshnetNodeName(e *env, h *netlab.Host) string { return h.Name + "-" + e.runID() }

func stateDirName(mode string, encrypted bool) string {
	if encrypted {
		return "meshnet-" + mode + "-enc"
	}
	return "meshnet-" + mode
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// meshnetHasCommand reports whether the binary has the subcommand, by
// asking for its help.
func meshnetHasCommand(ctx context.Context, bin, name string) bool {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, bin, name, "--help").Run() == nil
}

// meshnetJoinToken asks node A, the cluster's admin node, for a join token.
// The token is a secret: it goes to node B's token file and nowhere else.
func meshnetJoinToken(ctx context.Context, m *netlab.Meshnet) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := m.Host.Command(ctx, m.Binary, "token", "--ttl", "10m", "--state-dir", m.StateDir).Output()
	tok, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if err != nil || tok == "" {
		return "", fmt.Errorf("meshnet token on %s gave no token: %v", m.Host.Name, err)
	}
	return tok, nil
}

// stopMeshnet stops a node gracefully (it removes its device and leaves the
// cluster) and kills it if it takes too long.
func stopMeshnet(m *netlab.Meshnet) error {
	p := m.Proc
	if p.Exited() {
		return nil
	}
	p.Signal(syscall.SIGTERM)
	if err := p.Wait(meshnetStopMax); err != nil && !p.Exited() {
		p.Kill()
		return fmt.Errorf("meshnet on %s did not stop within %s; killed it", m.Host.Name, meshnetStopMax)
	}
	return nil
}
