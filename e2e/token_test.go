package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"meshnet.dev/meshnet/e2e/netlab"
	"meshnet.dev/meshnet/node/config"
)

// cmdline is a process's command line as every local user sees it.
func cmdline(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), "\x00", " ")
}

// TestTokenNeverInArgv joins two nodes with a token, one given the way a
// user might (--token TOKEN), the other piped to a detached daemon
// (--token -), and reads each running daemon's /proc/PID/cmdline: the
// token is in neither, and both joined.
func TestTokenNeverInArgv(t *testing.T) {
	_, hosts := newLab(t, 3)
	_, token, _ := adminWithRed(t, hosts[0])
	joiner := func(h *netlab.Host) config.Config {
		c := config.DefaultConfig()
		c.Name = h.Name
		c.Networks = []config.NetworkConfig{{Name: "red"}}
		return c
	}

	flagged, err := hosts[1].StartMeshnet(bin.meshnet, joiner(hosts[1]), "--token", token)
	if err != nil {
		t.Fatal(err)
	}
	checkJoinedWithoutToken(t, flagged, token)

	// Detached, the token on standard input: the daemon it starts gets it
	// on a pipe too.
	h := hosts[2]
	c := joiner(h)
	c.StateDir = filepath.Join(h.Dir, "state")
	data, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(h.Dir, "meshnet.yaml")
	if err := os.WriteFile(cfg, data, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	up := h.Command(ctx, bin.meshnet, "up", "-d", "-c", cfg, "--token", "-")
	up.Stdin = strings.NewReader(token + "\n")
	if out, err := up.CombinedOutput(); err != nil {
		t.Fatalf("meshnet up -d --token -: %v\n%s", err, out)
	}
	piped := &netlab.Meshnet{Host: h, Config: cfg, StateDir: c.StateDir, Binary: bin.meshnet}
	t.Cleanup(func() { piped.CLI("down") })
	checkJoinedWithoutToken(t, piped, token)
}

// checkJoinedWithoutToken waits for m to attach to red and checks that its
// command line does not hold the token.
func checkJoinedWithoutToken(t *testing.T, m *netlab.Meshnet, token string) {
	t.Helper()
	st, err := m.WaitNetworks(60*time.Second, "red")
	if err != nil {
		t.Fatal(err)
	}
	line := cmdline(t, st.Node.PID)
	if strings.Contains(line, token) || strings.Contains(line, token[:24]) {
		t.Fatalf("%s: the join token is in the daemon's command line: %q", m.Host.Name, line)
	}
	if !strings.Contains(line, "meshnet up") {
		t.Fatalf("%s: pid %d is not the daemon: %q", m.Host.Name, st.Node.PID, line)
	}
	t.Logf("%s: /proc/%d/cmdline: %s", m.Host.Name, st.Node.PID, line)
}
