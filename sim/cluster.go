package sim

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/gossip/memnet"
)

// clusterConfig says what cluster to build.
type clusterConfig struct {
	// N is the number of nodes; Extra is room for nodes started later.
	N, Extra int
	// TopologyAware is gossip.Config.TopologyAware (production: true).
	TopologyAware bool
	// MetaSize is each node's memberlist metadata; production carries
	// addresses, a public key and a key epoch, about 90 bytes.
	MetaSize int
	// JoinWave is the most nodes that join at once, each through a random
	// node that joined before; WavePause separates waves.
	JoinWave  int
	WavePause time.Duration
	// ReadyTimeout bounds the wait for every node to see every other one
	// alive, in the test network, with all endpoints.
	ReadyTimeout time.Duration
	// Seed makes loss, keys, metadata and the harness's choices
	// reproducible (gossip's own randomness is not seeded).
	Seed uint64
	Log  *slog.Logger
	// SuspicionMult, ProbeInterval and BulkSync override memberlist's
	// suspicion multiplier and probe period and gossip's BulkSyncInterval
	// when not zero.
	SuspicionMult int
	ProbeInterval time.Duration
	BulkSync      time.Duration
}

// cluster is N gossip DBs on one memnet network.
type cluster struct {
	cfg   clusterConfig
	net   *memnet.Network
	meter *linkMeter
	obs   *observer
	keys  [][]byte
	rng   *rand.Rand
	nodes []*simNode
}

type simNode struct {
	idx    int
	name   string
	addr   string
	db     *gossip.DB
	cancel func()
	down   bool
}

func newCluster(cfg clusterConfig) (*cluster, error) {
	c := &cluster{
		cfg:   cfg,
		net:   memnet.New(cfg.Seed),
		meter: newLinkMeter(),
		obs:   newObserver(cfg.N + cfg.Extra),
		rng:   rand.New(rand.NewPCG(cfg.Seed, 0x5eed)),
	}
	c.net.SetLatency(delay)
	// Three AES-256 keys, the middle one primary, as keydist hands out.
	for range 3 {
		k := make([]byte, 32)
		for i := range k {
			k[i] = byte(c.rng.Uint32())
		}
		c.keys = append(c.keys, k)
	}
	for range cfg.N {
		if _, err := c.startNode(); err != nil {
			c.shutdown()
			return nil, err
		}
	}
	return c, nil
}

// startNode starts the next node the way a daemon does: join the test
// network and publish its endpoint before meeting the cluster.
func (c *cluster) startNode() (*simNode, error) {
	idx := len(c.nodes)
	if idx >= len(c.obs.alive) {
		return nil, fmt.Errorf("sim: no room for node %d: raise Extra", idx)
	}
	name := nodeName(idx)
	tr := c.net.NewTransport(name)
	cfg := gossip.DefaultConfig()
	cfg.Name = name
	cfg.Transport = c.meter.wrap(tr, regionOf(name))
	cfg.Keys, cfg.PrimaryKey = c.keys, 1
	cfg.Meta = c.randomBytes(c.cfg.MetaSize)
	cfg.TopologyAware = c.cfg.TopologyAware
	cfg.BulkSyncInterval = c.cfg.BulkSync // 0 keeps the default
	if pi := c.cfg.ProbeInterval; pi > 0 {
		cfg.ProbeInterval = pi
	}
	if m := c.cfg.SuspicionMult; m > 0 {
		cfg.Tune = func(mc *memberlist.Config) { mc.SuspicionMult = m }
	}
	db, err := gossip.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("sim: starting %s: %w", name, err)
	}
	n := &simNode{idx: idx, name: name, addr: tr.Addr().String(), db: db}
	n.cancel = db.Watch(func(e gossip.Event) { c.obs.handle(idx, e) })
	c.nodes = append(c.nodes, n)
	if err := db.JoinNetwork(testNetwork); err != nil {
		return nil, err
	}
	if err := db.Put(testNetwork, endpointTable, name, endpointValue(idx)); err != nil {
		return nil, err
	}
	return n, nil
}

// endpointValue is a MAC and an overlay address, like routing publishes.
func endpointValue(i int) []byte {
	return fmt.Appendf(nil, "02:42:0a:%02x:%02x:%02x 10.%d.%d.%d/16", byte(i>>16), byte(i>>8), byte(i), byte(i>>16), byte(i>>8), byte(i))
}

func (c *cluster) randomBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(c.rng.Uint32())
	}
	return b
}

// joinAll joins nodes 1..N-1 in waves, each through a random node that
// joined in an earlier wave, so no single seed takes every push/pull.
func (c *cluster) joinAll() error {
	joined := []*simNode{c.nodes[0]}
	next := 1
	lastLog := 0
	for next < len(c.nodes) {
		wave := min(len(joined), c.cfg.JoinWave, len(c.nodes)-next)
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
		)
		for _, n := range c.nodes[next : next+wave] {
			seeds := []string{joined[c.rng.IntN(len(joined))].addr, joined[c.rng.IntN(len(joined))].addr}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := n.db.Join(seeds); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s: %w", n.name, err))
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		joined = append(joined, c.nodes[next:next+wave]...)
		next += wave
		if next-lastLog >= max(len(c.nodes)/10, 1) {
			c.cfg.Log.Info("joined", "nodes", next, "of", len(c.nodes))
			lastLog = next
		}
		time.Sleep(c.cfg.WavePause)
	}
	return nil
}

// live returns the nodes that are up.
func (c *cluster) live() []*simNode {
	out := make([]*simNode, 0, len(c.nodes))
	for _, n := range c.nodes {
		if !n.down {
			out = append(out, n)
		}
	}
	return out
}

// notReady says what keeps the cluster from being converged, or "".
func (c *cluster) notReady() string {
	live := c.live()
	want := int32(len(live))
	for _, n := range live {
		if a := c.obs.alive[n.idx].Load(); a != want-1 {
			return fmt.Sprintf("%s sees %d of %d other members alive", n.name, a, want-1)
		}
		// Crashed nodes keep their membership records (hidden, not left).
		if m := c.obs.inNet[n.idx].Load(); m < want {
			return fmt.Sprintf("%s knows %d of %d members of %s", n.name, m, want, testNetwork)
		}
	}
	for _, n := range live {
		if e := n.db.Stats().Entries[testNetwork]; e < len(live) {
			return fmt.Sprintf("%s holds %d of %d endpoints", n.name, e, len(live))
		}
	}
	return ""
}

// waitReady polls until every live node sees every other alive, in the
// test network, with its endpoint.
func (c *cluster) waitReady(timeout time.Duration) error {
	start := time.Now()
	lastLog := start
	for {
		why := c.notReady()
		if why == "" {
			return nil
		}
		if time.Since(start) > timeout {
			return fmt.Errorf("sim: cluster of %d not converged after %v: %s", len(c.live()), timeout, why)
		}
		if time.Since(lastLog) >= 10*time.Second {
			c.cfg.Log.Info("converging", "virtual", time.Since(start).Round(time.Second), "waiting-for", why)
			lastLog = time.Now()
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// crash takes node n down without a word: its links go black, then the
// DB stops.
func (c *cluster) crash(n *simNode) {
	c.obs.markCrashed(n.name)
	c.net.Crash(n.name)
	n.cancel()
	_ = n.db.Shutdown()
	n.down = true
}

// shutdown stops every node that is up.
func (c *cluster) shutdown() {
	for _, n := range c.nodes {
		if !n.down {
			n.cancel()
			_ = n.db.Shutdown()
			n.down = true
		}
	}
}

// stop shuts every node down, then lets memberlist's probes still in
// flight run out their timeouts (TCPTimeout is 10 s), so that the bubble
// ends with no goroutine left.
func (c *cluster) stop() {
	c.shutdown()
	time.Sleep(15 * time.Second)
}

// pick returns k distinct random live nodes, excluding skip.
func (c *cluster) pick(k int, skip *simNode) []*simNode {
	live := c.live()
	c.rng.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
	out := make([]*simNode, 0, k)
	for _, n := range live {
		if len(out) == k {
			break
		}
		if n != skip {
			out = append(out, n)
		}
	}
	return out
}
