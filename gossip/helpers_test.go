package gossip

import (
	"fmt"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"meshnet.dev/meshnet/gossip/memnet"
)

// fastMemberlist shrinks memberlist's timings so that failure detection
// takes well under a second.
func fastMemberlist(c *memberlist.Config) {
	c.ProbeInterval = 100 * time.Millisecond
	c.ProbeTimeout = 50 * time.Millisecond
	c.GossipInterval = 20 * time.Millisecond
	c.SuspicionMult = 2
	c.SuspicionMaxTimeoutMult = 2
	c.TCPTimeout = 500 * time.Millisecond
	c.GossipToTheDeadTime = 2 * time.Second
	c.DeadNodeReclaimTime = 200 * time.Millisecond
}

func testLogger() *slog.Logger {
	if os.Getenv("GOSSIP_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// cluster is a set of DBs on one in-memory network.
type cluster struct {
	t     testing.TB
	net   *memnet.Network
	nodes map[string]*DB
	names []string
	mod   func(*Config)
}

func newCluster(t testing.TB, n int, mod func(*Config)) *cluster {
	t.Helper()
	c := &cluster{t: t, net: memnet.New(1), nodes: make(map[string]*DB), mod: mod}
	for i := range n {
		c.start(fmt.Sprintf("mngsp-n%02d", i))
	}
	t.Cleanup(c.shutdownAll)
	return c
}

func (c *cluster) config(name string) Config {
	cfg := DefaultConfig()
	cfg.Name = name
	cfg.Transport = c.net.NewTransport(name)
	cfg.GossipInterval = 50 * time.Millisecond
	cfg.BulkSyncInterval = time.Second
	cfg.TombstoneTTL = 20 * time.Second
	cfg.NodeReapTimeout = time.Minute
	cfg.Tune = fastMemberlist
	cfg.Logger = testLogger().With("node", name)
	if c.mod != nil {
		c.mod(&cfg)
	}
	return cfg
}

// start creates node name (again, after a shutdown: with a new address).
func (c *cluster) start(name string) *DB {
	return c.startWith(name, nil)
}

func (c *cluster) startWith(name string, mod func(*Config)) *DB {
	c.t.Helper()
	cfg := c.config(name)
	if mod != nil {
		mod(&cfg)
	}
	d, err := New(cfg)
	if err != nil {
		c.t.Fatalf("New(%s): %v", name, err)
	}
	if _, ok := c.nodes[name]; !ok {
		c.names = append(c.names, name)
	}
	c.nodes[name] = d
	return d
}

func (c *cluster) addr(name string) string {
	for _, m := range c.nodes[name].Members() {
		if m.Name == name {
			return m.Addr.String()
		}
	}
	c.t.Fatalf("%s does not know its own address", name)
	return ""
}

// joinAll joins every node to the first, and waits until all see all.
func (c *cluster) joinAll() {
	c.t.Helper()
	seed := c.addr(c.names[0])
	for _, name := range c.names[1:] {
		if _, err := c.nodes[name].Join([]string{seed}); err != nil {
			c.t.Fatalf("%s join: %v", name, err)
		}
	}
	c.waitMembers(c.names...)
}

// waitMembers waits until every named node sees exactly the named nodes alive.
func (c *cluster) waitMembers(names ...string) {
	c.t.Helper()
	want := slices.Sorted(slices.Values(names))
	// Generous: a node that missed an alive message waits for a
	// membership digest to differ and start a push/pull (BulkSyncInterval,
	// 30 s by default).
	waitFor(c.t, 90*time.Second, func() error {
		for _, n := range names {
			if got := c.nodes[n].NetworkMembers(ClusterScope); !slices.Equal(got, want) {
				return fmt.Errorf("%s sees %v alive, want %v", n, got, want)
			}
		}
		return nil
	})
}

func (c *cluster) live() []*DB {
	var out []*DB
	for _, n := range c.names {
		if d := c.nodes[n]; !d.isClosed() {
			out = append(out, d)
		}
	}
	return out
}

// stop shuts every node down, then waits while memberlist's probes still in
// flight run out their timeouts (virtual time in a bubble), so that the
// bubble ends with no goroutine left.
func (c *cluster) stop() {
	c.shutdownAll()
	time.Sleep(2 * time.Second)
}

func (c *cluster) shutdownAll() {
	for _, n := range c.names {
		_ = c.nodes[n].Shutdown()
	}
}

// waitFor polls cond until it returns nil or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v: %v", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lookupValue returns the value owner has for key as d sees it.
func lookupValue(d *DB, network, table, key, owner string) (string, bool) {
	for _, e := range d.Lookup(network, table, key) {
		if e.Owner == owner {
			return string(e.Value), true
		}
	}
	return "", false
}

// heldNetworks returns the networks d stores any record for.
func (d *DB) heldNetworks() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for id, n := range d.networks {
		if n.count > 0 {
			out = append(out, id)
		}
	}
	return out
}

// dump returns d's visible entries of network, for comparing replicas.
func dump(d *DB, network string, tables ...string) []string {
	var out []string
	for _, tb := range tables {
		d.Walk(network, tb, func(e Entry) bool {
			out = append(out, fmt.Sprintf("%s/%s/%s=%s@%d", e.Table, e.Key, e.Owner, e.Value, e.LTime))
			return true
		})
	}
	return out
}
