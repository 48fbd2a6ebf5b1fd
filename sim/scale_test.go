package sim

import (
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"meshnet.dev/meshnet/gossip"
)

func TestMain(m *testing.M) {
	RegisterFlags(flag.CommandLine)
	os.Exit(m.Run())
}

// runBubble runs one size in its own synctest bubble.
func runBubble(t *testing.T, n int, p Params, log *slog.Logger) Result {
	t.Helper()
	var (
		res Result
		err error
	)
	synctest.Test(t, func(t *testing.T) { res, err = Run(n, p, log) })
	if err != nil {
		t.Fatalf("n=%d: %v", n, err)
	}
	return res
}

// TestScale is the published run (make sim); without -n it does nothing.
func TestScale(t *testing.T) {
	o, err := OptionsFrom(flag.CommandLine)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Ns) == 0 {
		t.Skip("no sizes given: run `make sim` or go test ./sim -run TestScale -timeout 0 -args -n 10,100,1000")
	}
	if o.MemLimitGiB > 0 {
		debug.SetMemoryLimit(int64(o.MemLimitGiB * (1 << 30)))
	}
	debug.SetGCPercent(o.GCPercent)
	// go test runs in the package directory; -out is relative to the
	// module root, where make and people run it from.
	if o.Out != "" && !filepath.IsAbs(o.Out) {
		o.Out = filepath.Join("..", o.Out)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	rep := Report{Command: commandLine(os.Args[1:]), Host: HostInfo()}
	run := func(n int, p Params) (Result, bool) {
		runtime.GC()
		debug.FreeOSMemory()
		if !resetPeakRSS() {
			t.Log("cannot reset the peak RSS record: peak RSS covers the whole process")
		}
		var res Result
		ok := t.Run(fmt.Sprintf("n=%d/topology=%v", n, p.TopologyAware), func(t *testing.T) { res = runBubble(t, n, p, log) })
		return res, ok
	}
	// Publish after every size, so a long run that is stopped early
	// still leaves what it measured.
	publish := func() {
		rep.WriteText(os.Stdout)
		if o.Out == "" {
			return
		}
		figs, err := rep.WritePlots(filepath.Dir(o.Out))
		if err != nil {
			t.Fatal(err)
		}
		if err := UpdateFile(o.Out, rep.Generated(figs)); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range o.Ns {
		p := o.Params
		if !slices.Contains(o.BulkNs, n) {
			p.BulkEntries = 0
		}
		r, ok := run(n, p)
		if !ok {
			break
		}
		rep.Main = append(rep.Main, r)
		publish()
		if slices.Contains(o.RandomNs, n) {
			p.TopologyAware, p.Failures, p.BulkEntries = false, false, 0
			if r, ok = run(n, p); !ok {
				break
			}
			rep.Random = append(rep.Random, r)
			publish()
		}
	}
}

// quickParams shrink the windows so that CI runs both sizes in seconds.
func quickParams() Params {
	p := DefaultParams()
	p.Settle = 10 * time.Second
	p.IdleWindow = 60 * time.Second
	p.ChurnWindow = 20 * time.Second
	p.Losses = []float64{0}
	p.FailureWindow = time.Minute
	p.BulkEntries, p.BulkMembers = 0, 0
	return p
}

// suspicionBounds are memberlist's lower and upper suspicion timeouts at
// n nodes with gossip's memberlist configuration: no member can mark a crashed node failed
// sooner than the lower one after suspecting it, and without any
// confirmation it waits the upper one.
func suspicionBounds(n int) (lo, hi time.Duration) {
	lo = time.Duration(gossip.SuspicionMult * math.Max(1, math.Log10(float64(n))) * float64(gossip.DefaultProbeInterval))
	return lo, 6 * lo
}

// TestSmallClusters is the CI check: 10 and 50 nodes with production
// defaults, asserting on what was measured.
func TestSmallClusters(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates clusters for tens of seconds")
	}
	log := slog.New(slog.DiscardHandler)
	idle := make(map[int]float64)
	for _, n := range []int{10, 50} {
		p := quickParams()
		if n == 10 {
			p.BulkEntries, p.BulkMembers = 1000, 10
		}
		r := runBubble(t, n, p, log)
		var b strings.Builder
		Report{Main: []Result{r}}.WriteMarkdown(&b)
		t.Logf("n=%d wall %v\n%s", n, r.Wall.Round(time.Millisecond), b.String())

		// Every write reached every member, by gossip: log3(50) rounds
		// of 200 ms and a cross-region hop fit in 2.5 s; a member the
		// epidemic missed waits for a bulk sync (30 s).
		if r.Write.MinReached != 1 {
			t.Errorf("n=%d: a write reached only %.0f%% of members", n, r.Write.MinReached*100)
		}
		if r.Write.P100 < 0 || r.Write.P100 > 2500*time.Millisecond {
			t.Errorf("n=%d: median time to reach all members %v, want at most 2.5 s", n, r.Write.P100)
		}
		if r.Write.WorstP100 < 0 || r.Write.WorstP100 > 35*time.Second {
			t.Errorf("n=%d: worst time to reach all members %v, more than a bulk-sync round", n, r.Write.WorstP100)
		}
		// Nothing can arrive before one cross-region... or at least one
		// intra-region hop: a zero would mean the watcher saw the write
		// locally, not by gossip.
		if r.Write.P50 < IntraRegionDelay {
			t.Errorf("n=%d: half the members had the write after %v, faster than one link", n, r.Write.P50)
		}

		f := r.failure(0)
		lo, hi := suspicionBounds(n)
		switch {
		case f == nil:
			t.Fatalf("n=%d: no failure run", n)
		case len(f.Crashes) != crashesAt(n, p):
			t.Errorf("n=%d: %d crashes timed, want %d", n, len(f.Crashes), crashesAt(n, p))
		case f.Worst < 0:
			t.Errorf("n=%d: a crash was marked failed by only %.0f%% of members before the next", n, f.Marked*100)
		case f.Earliest < lo:
			t.Errorf("n=%d: a member marked a crash failed after %v, before memberlist's minimum suspicion %v", n, f.Earliest, lo)
		case f.Worst > hi+5*time.Second:
			t.Errorf("n=%d: all members marked a crash failed after %v, beyond the %v suspicion ceiling", n, f.Worst, hi)
		}
		if f != nil && f.FalsePositives != 0 {
			t.Errorf("n=%d: %d false positives without loss", n, f.FalsePositives)
		}

		// Idle: a probe and its ack (with a Vivaldi coordinate) per
		// second, and two digests per 30 s; anything far outside means
		// something loops or nothing runs.
		if r.Idle.PerNode < 100 || r.Idle.PerNode > 5000 {
			t.Errorf("n=%d: idle node sends %.0f B/s, want 100..5000", n, r.Idle.PerNode)
		}
		idle[n] = r.Idle.PerNode
		if r.Churn.PerNode <= r.Idle.PerNode {
			t.Errorf("n=%d: churn (%.0f B/s) costs no more than idle (%.0f B/s)", n, r.Churn.PerNode, r.Idle.PerNode)
		}
		if b := r.Bulk; p.BulkEntries > 0 {
			if b == nil || b.Time > 5*time.Second || b.SyncPayload == 0 {
				t.Errorf("n=%d: joining a %d-entry network: %+v", n, p.BulkEntries, b)
			}
		}
	}
	// Idle load per node doesn't grow with N: anti-entropy sends digests,
	// not state, unless replicas differ.
	if lo, hi := idle[10], idle[50]; hi > 1.2*lo || hi < 0.8*lo {
		t.Errorf("idle B/s per node: %.0f at 10 nodes, %.0f at 50, want within 20%%", lo, hi)
	}
}

// commandLine is the go test command that reproduces this run: the
// testing package's own flags (-test.*) are left out, ours follow -args.
func commandLine(args []string) string {
	var own []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-test.") {
			own = append(own, a)
		}
	}
	return "go test ./sim -run '^TestScale$' -count=1 -timeout 0 -args " + strings.Join(own, " ")
}
