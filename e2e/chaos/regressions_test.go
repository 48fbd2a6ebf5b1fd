package chaos

import (
	"os"
	"strings"
	"testing"
	"time"

	"meshnet.dev/meshnet/e2e/netlab"
)

// Regression tests of the daemon bugs these suites found, each described
// with its reproduction and fix in docs/RELIABILITY.md under its name:
// keyring-lockout, admin-restart-lockout, token-expiry-restart (here), and
// gossip-stream-prealloc and gossip-log-flood (TestHostileInput).

// TestMissedRotationsLockNodeOut is the regression test of
// keyring-lockout: with keys rotating every 2 s, a node cut off for 10 s
// (five rotations) must be a working member again once the cut heals.
func TestMissedRotationsLockNodeOut(t *testing.T) {
	c := newCluster(t, clusterConfig{hosts: 3, rotation: 2 * time.Second})
	heal, err := netlab.Partition(c.hosts[2:], c.hosts[:2])
	if err != nil {
		t.Fatal(err)
	}
	c.heal = heal
	time.Sleep(10 * time.Second) // the outage: five rotations
	if err := heal(); err != nil {
		t.Fatal(err)
	}
	c.heal = nil
	if d, err := c.converge(90 * time.Second); err != nil {
		t.Fatalf("h3 was cut off for five key rotations and is still out %s after the cut healed: %v", d.Round(time.Second), err)
	}
}

// TestRestartAfterTokenExpired is the regression test of
// token-expiry-restart: a member whose config still holds the join token
// it joined with (as a config file or token_file naturally does) must start
// again after the token expired; it has its keys in its state directory.
func TestRestartAfterTokenExpired(t *testing.T) {
	c := newCluster(t, clusterConfig{hosts: 2, rotation: time.Hour})
	// Re-join h2 with a token that expires in two seconds.
	out := c.cli(0, "token", "--ttl", "2s")
	tok := strings.TrimSpace(strings.Split(out, "\n")[0])
	c.kill(1)
	if err := os.RemoveAll(c.ms[1].StateDir); err != nil {
		t.Fatal(err)
	}
	if err := setToken(c.ms[1].Config, tok); err != nil {
		t.Fatal(err)
	}
	c.restart(1, bin.meshnet)
	if _, err := c.converge(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	expiry := time.Now().Add(2 * time.Second)
	time.Sleep(time.Until(expiry.Add(time.Second))) // until the token has expired
	c.kill(1)
	c.ms[1].Binary = bin.meshnet
	if err := c.ms[1].Start(); err != nil {
		t.Fatalf("a member cannot restart once the token in its config expired: %v", err)
	}
}

// TestAdminRestartKeepsMembers is the regression test of
// admin-restart-lockout: the admin node (the seed everyone joined through)
// is SIGKILLed, stays down while a rotation falls due, and restarts; every
// member must be back with it and on its keys.
func TestAdminRestartKeepsMembers(t *testing.T) {
	c := newCluster(t, clusterConfig{hosts: 4, rotation: 5 * time.Second})
	c.kill(0)
	time.Sleep(6 * time.Second) // down across a scheduled rotation
	c.restart(0, bin.meshnet)
	if d, err := c.converge(90 * time.Second); err != nil {
		t.Fatalf("members lost %s after the admin node restarted: %v", d.Round(time.Second), err)
	}
}
