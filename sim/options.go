package sim

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Options are the big run's command-line knobs (go test ./sim -args ...).
type Options struct {
	// Ns are the cluster sizes; empty means no big run.
	Ns []int
	// RandomNs are the sizes also run with random fanout, for comparison.
	RandomNs []int
	// BulkNs are the sizes at which the 10,000-entry join is measured.
	BulkNs []int
	// Out is the markdown file to update; figures go beside it.
	Out string
	// MemLimitGiB and GCPercent tune the collector for big clusters.
	MemLimitGiB float64
	GCPercent   int
	Params      Params
}

// RegisterFlags defines the options on fs.
func RegisterFlags(fs *flag.FlagSet) {
	d := DefaultParams()
	fs.String("n", "", "cluster sizes to simulate, e.g. 10,100,1000,5000 (empty: no big run)")
	fs.String("random-n", "100,1000", "sizes also run with random fanout, to compare with topology-aware")
	fs.String("bulk-n", "10,100,1000", "sizes at which a node joins a network of 10,000 entries")
	fs.String("out", "", "markdown file whose generated block is rewritten, figures beside it; relative to the module root (e.g. docs/SCALE.md)")
	fs.Float64("memlimit", 12, "soft memory limit in GiB for the big run (runtime/debug.SetMemoryLimit)")
	fs.Int("gogc", 400, "GC percent for the big run: the heap is mostly long-lived cluster state, so collecting at 5x it saves most GC work")
	fs.Int("trials", d.Trials, "timed writes per size")
	fs.Duration("churn-window", d.ChurnWindow, "virtual time of the churn measurement")
	fs.Duration("failure-window", d.FailureWindow, "virtual time per loss rate of the failure measurement")
	fs.Duration("idle-window", 0, "virtual time of the idle measurement (0: 120s, four bulk-sync intervals)")
	fs.Int("join-wave", d.JoinWave, "most nodes joining at once")
	fs.Uint64("seed", d.Seed, "seed for loss, keys and the harness's choices")
	fs.Int("crashes", d.Crashes, "crashes per loss rate, spread over the failure window")
	fs.Int("suspicion-mult", 0, "experiment: memberlist SuspicionMult (0: gossip.SuspicionMult, the production value)")
	fs.Duration("probe-interval", 0, "experiment: gossip ProbeInterval, probe timeout as the daemon derives it (0: gossip.DefaultProbeInterval, the production value)")
	fs.Duration("bulk-sync", 0, "experiment: gossip BulkSyncInterval (0: the default 30s)")
}

// OptionsFrom reads the options defined by RegisterFlags after parsing.
func OptionsFrom(fs *flag.FlagSet) (Options, error) {
	o := Options{Params: DefaultParams()}
	get := func(name string) string { return fs.Lookup(name).Value.String() }
	var err error
	for _, l := range []struct {
		name string
		dst  *[]int
	}{{"n", &o.Ns}, {"random-n", &o.RandomNs}, {"bulk-n", &o.BulkNs}} {
		if *l.dst, err = parseInts(get(l.name)); err != nil {
			return o, fmt.Errorf("-%s: %w", l.name, err)
		}
	}
	o.Out = get("out")
	if o.MemLimitGiB, err = strconv.ParseFloat(get("memlimit"), 64); err != nil {
		return o, fmt.Errorf("-memlimit: %w", err)
	}
	ints := []struct {
		name string
		dst  *int
	}{{"gogc", &o.GCPercent}, {"trials", &o.Params.Trials}, {"join-wave", &o.Params.JoinWave}, {"crashes", &o.Params.Crashes}, {"suspicion-mult", &o.Params.SuspicionMult}}
	for _, f := range ints {
		if *f.dst, err = strconv.Atoi(get(f.name)); err != nil {
			return o, fmt.Errorf("-%s: %w", f.name, err)
		}
	}
	durs := []struct {
		name string
		dst  *time.Duration
	}{{"churn-window", &o.Params.ChurnWindow}, {"failure-window", &o.Params.FailureWindow}, {"idle-window", &o.Params.IdleWindow}, {"probe-interval", &o.Params.ProbeInterval}, {"bulk-sync", &o.Params.BulkSync}}
	for _, f := range durs {
		if *f.dst, err = time.ParseDuration(get(f.name)); err != nil {
			return o, fmt.Errorf("-%s: %w", f.name, err)
		}
	}
	if o.Params.Seed, err = strconv.ParseUint(get("seed"), 10, 64); err != nil {
		return o, fmt.Errorf("-seed: %w", err)
	}
	return o, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil || v < 2 {
			return nil, fmt.Errorf("%q is not a cluster size (2 or more)", f)
		}
		out = append(out, v)
	}
	return out, nil
}
