package sim

import (
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/hashicorp/memberlist"
)

// Params are one run's knobs; DefaultParams documents the defaults.
type Params struct {
	// TopologyAware selects topology-aware fanout (production) or random.
	TopologyAware bool
	MetaSize      int
	JoinWave      int
	WavePause     time.Duration
	ReadyTimeout  time.Duration
	// Settle is the least quiet time after the cluster converged and
	// before anything is measured (the join storm's syncs die down,
	// Vivaldi coordinates start to form); the wait then goes on until the
	// packet rate is steady (settle), at most MaxSettle in all.
	Settle, MaxSettle time.Duration
	// IdleWindow is the idle measurement; 0 picks 120 s, four bulk-sync
	// intervals, so every node's periodic digests (and any full exchange
	// they start) are in it. memberlist's own push/pull timer is off.
	IdleWindow time.Duration
	// Trials writes are timed, Gap apart; WriteTimeout bounds each.
	Trials       int
	Gap          time.Duration
	WriteTimeout time.Duration
	// Churn is the fraction of nodes updating their endpoint every
	// second during ChurnWindow.
	Churn       float64
	ChurnWindow time.Duration
	// Losses are the packet loss rates failure detection runs under,
	// Crashes crashes each, spread over FailureWindow, counting false
	// positives over all of it.
	Losses        []float64
	Crashes       int
	FailureWindow time.Duration
	// BulkEntries > 0 measures a node joining a network of BulkMembers
	// members holding that many entries.
	BulkEntries, BulkMembers int
	// Failures false skips the crash runs (the random-fanout comparison
	// needs only convergence and bytes).
	Failures bool
	Seed     uint64
	// Experiments, off (0) in the published defaults: memberlist's
	// SuspicionMult and ProbeInterval and meshnet's BulkSyncInterval.
	SuspicionMult int
	ProbeInterval time.Duration
	BulkSync      time.Duration
}

// DefaultParams are the published run's parameters.
func DefaultParams() Params {
	return Params{
		TopologyAware: true,
		MetaSize:      90,
		JoinWave:      64,
		WavePause:     500 * time.Millisecond,
		ReadyTimeout:  30 * time.Minute,
		Settle:        30 * time.Second,
		MaxSettle:     5 * time.Minute,
		Trials:        5,
		Gap:           3 * time.Second,
		WriteTimeout:  3 * time.Minute,
		Churn:         0.01,
		ChurnWindow:   60 * time.Second,
		Losses:        []float64{0, 0.05, 0.10},
		Crashes:       5,
		FailureWindow: 3 * time.Minute,
		BulkEntries:   10_000,
		BulkMembers:   50,
		Failures:      true,
		Seed:          1,
	}
}

// Result is everything measured for one cluster size.
type Result struct {
	N      int
	Params Params
	// Build is the virtual time from the first join until every node saw
	// every other with its endpoint; BuildWall is the real time it took.
	Build, BuildWall time.Duration
	// Settled is the virtual time waited after building for the packet
	// rate to be steady, before the idle measurement.
	Settled     time.Duration
	Idle, Churn Bandwidth
	Writes      []Convergence
	Write       ConvergenceSummary
	Failures    []FailureRun
	Bulk        *BulkJoin
	// Coords is the fraction of peers a sample of nodes has a Vivaldi
	// estimate for when writes are timed.
	Coords float64
	// Virtual, Wall and CPU are the whole run's virtual time, real time
	// and process CPU time; PeakRSS is the process's peak resident set
	// during it (0 if unknown) and Goroutines the count at full size.
	Virtual, Wall, CPU time.Duration
	PeakRSS            uint64
	Goroutines         int
	// LiveHeap is the heap in use right after a collection once the
	// cluster converged: what holding N nodes in one process takes.
	LiveHeap uint64
	// BuildDrops sums every node's gossip Stats.Dropped while building.
	BuildDrops map[string]uint64
}

// crashesAt is how many crashes each loss rate gets at n nodes: p.Crashes,
// but no more than a quarter of the nodes in all, so that the cluster
// measured last is the size it says.
func crashesAt(n int, p Params) int {
	return max(1, min(p.Crashes, n/4/max(len(p.Losses), 1)))
}

// settleStep is the window over which settle compares packet rates.
const settleStep = 10 * time.Second

// settle waits at least least, then until the packets live nodes send per
// second stop falling (one settleStep within 10% of the one before) below
// half of gossipCeiling, at most most in all, and returns how long it
// waited. memberlist retransmits
// every alive message of the join storm about 4 log10(N) times from every
// node, a backlog that at 1,000 nodes takes minutes to drain: bytes sent
// while it drains are the join's, not idle load.
func (c *cluster) settle(least, most time.Duration, log *slog.Logger) time.Duration {
	start := time.Now()
	time.Sleep(least)
	rate := func() float64 {
		var before, after uint64
		live := c.live()
		for _, n := range live {
			before += c.net.Counters(n.name).PacketBytesSent
		}
		time.Sleep(settleStep)
		for _, n := range live {
			after += c.net.Counters(n.name).PacketBytesSent
		}
		return float64(after-before) / float64(len(live)) / settleStep.Seconds()
	}
	prev := rate()
	for time.Since(start) < most {
		cur := rate()
		log.Info("settling", "virtual", time.Since(start).Round(time.Second), "packet-bytes-per-node-s", int(cur))
		if cur >= 0.9*prev && cur < gossipCeiling()/2 {
			break
		}
		prev = cur
	}
	return time.Since(start)
}

// gossipCeiling is the most memberlist's gossip sends per node per second:
// GossipNodes full packets every GossipInterval. A rate near it is steady
// only because the broadcast queues are full: after a quick build (gaps
// make membership converge in a fifth of the time) the join storm's
// backlog drained at a steady 22 kB/s per node at 1,000 nodes, which the
// rate test alone took for idle load.
func gossipCeiling() float64 {
	c := memberlist.DefaultLANConfig()
	return float64(c.GossipNodes*c.UDPBufferSize) / c.GossipInterval.Seconds()
}

// defaultIdleWindow is four times the longest periodic exchange, the
// 30 s bulk-sync digest round.
const defaultIdleWindow = 120 * time.Second

func idleWindow(p Params) time.Duration {
	if p.IdleWindow > 0 {
		return p.IdleWindow
	}
	return defaultIdleWindow
}

// Run builds a cluster of n nodes and measures it. It must run inside a
// synctest bubble: everything it does takes virtual time.
func Run(n int, p Params, log *slog.Logger) (res Result, err error) {
	res = Result{N: n, Params: p}
	wall0, cpu0, virt0 := wallNow(), cpuTime(), time.Now()
	phase := func(name string, since time.Time) {
		log.Info("phase done", "n", n, "phase", name, "virtual", time.Since(virt0).Round(time.Millisecond), "wall", wallNow().Sub(since).Round(time.Millisecond))
	}
	extra := 0
	if p.BulkEntries > 0 {
		extra = 1
	}
	c, err := newCluster(clusterConfig{
		N: n, Extra: extra, TopologyAware: p.TopologyAware, MetaSize: p.MetaSize,
		JoinWave: p.JoinWave, WavePause: p.WavePause, ReadyTimeout: p.ReadyTimeout,
		Seed: p.Seed, Log: log.With("n", n),
		SuspicionMult: p.SuspicionMult, ProbeInterval: p.ProbeInterval, BulkSync: p.BulkSync,
	})
	if err != nil {
		return res, err
	}
	defer func() {
		c.stop()
		res.Virtual, res.Wall, res.CPU = time.Since(virt0), wallNow().Sub(wall0), cpuTime()-cpu0
		res.PeakRSS = peakRSS()
	}()

	w := wallNow()
	start := time.Now()
	if err := c.joinAll(); err != nil {
		return res, err
	}
	if err := c.waitReady(p.ReadyTimeout); err != nil {
		return res, err
	}
	res.Build, res.BuildWall = time.Since(start), wallNow().Sub(w)
	res.Goroutines = runtime.NumGoroutine()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.LiveHeap = ms.HeapAlloc
	res.BuildDrops = c.drops()
	phase("build", w)
	res.Settled = c.settle(p.Settle, p.MaxSettle, log.With("n", n))

	w = wallNow()
	if res.Idle, err = c.measureBandwidth(idleWindow(p), 0); err != nil {
		return res, err
	}
	phase("idle", w)

	w = wallNow()
	res.Coords = c.coordCoverage(20)
	if res.Writes, err = c.measureConvergence(p.Trials, p.Gap, p.WriteTimeout); err != nil {
		return res, err
	}
	res.Write = summarizeTrials(res.Writes)
	phase("convergence", w)

	if p.ChurnWindow > 0 {
		w = wallNow()
		if res.Churn, err = c.measureBandwidth(p.ChurnWindow, p.Churn); err != nil {
			return res, err
		}
		phase("churn", w)
	}

	if p.Failures {
		for _, loss := range p.Losses {
			w = wallNow()
			res.Failures = append(res.Failures, c.measureFailure(loss, crashesAt(n, p), p.FailureWindow))
			phase(fmt.Sprintf("failure-%.0f%%", loss*100), w)
		}
	}

	// Last: the large table makes every later bulk sync of its members
	// expensive.
	if p.BulkEntries > 0 {
		w = wallNow()
		b, err := c.measureBulkJoin(min(p.BulkMembers, len(c.live())), p.BulkEntries, p.ReadyTimeout)
		if err != nil {
			return res, fmt.Errorf("bulk join: %w", err)
		}
		res.Bulk = &b
		phase("bulk-join", w)
	}
	return res, nil
}

// coordCoverage samples k live nodes and returns the mean fraction of
// their live peers they have a Vivaldi distance estimate for.
func (c *cluster) coordCoverage(k int) float64 {
	live := c.live()
	var sum float64
	sample := c.pick(min(k, len(live)), nil)
	for _, n := range sample {
		known := 0
		for _, o := range live {
			if o != n {
				if _, ok := n.db.RTT(o.name); ok {
					known++
				}
			}
		}
		sum += float64(known) / float64(max(len(live)-1, 1))
	}
	return sum / float64(max(len(sample), 1))
}

// drops sums the live nodes' gossip drop counters.
func (c *cluster) drops() map[string]uint64 {
	out := map[string]uint64{}
	for _, n := range c.live() {
		for k, v := range n.db.Stats().Dropped {
			out[k] += v
		}
	}
	return out
}
