package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
)

// options are the harness's settings, from flags.
type options struct {
	// Args are the command-line arguments, recorded with the results.
	Args []string
	// Subjects to run, by name, in table order.
	Subjects []string
	// Rounds is how many times every subject is measured; the table shows
	// the median round of each figure.
	Rounds int
	// Duration of each iperf3 run.
	Duration time.Duration
	// Streams is the parallel stream count of the multi-stream TCP run.
	Streams int
	// PingCount and PingInterval shape the latency probe.
	PingCount    int
	PingInterval time.Duration
	// Quick shortens every run for a smoke test.
	Quick bool
	// JSON is where the results go; empty: bench/results/<timestamp>.json.
	JSON string
	// Meshnet is the binary to run; empty: build one into a temporary
	// directory first.
	Meshnet string
	// WireguardGo is the wireguard-go binary.
	WireguardGo string
	// Verbose logs every command the harness runs to stderr.
	Verbose bool
	// Idle is how long the harness waits after a subject's load stops
	// before it reads the overlay processes' resident memory again: what
	// a node keeps while traffic is quiet. 0 skips the idle reading.
	Idle time.Duration
	// Profile, if set, is an absolute directory each meshnet node writes
	// its CPU profile (performance.cpu_profile) and its peak heap profile
	// (performance.heap_profile) into, one pair per node per subject and
	// round.
	Profile string
}

// quickDuration is the iperf3 run length under --quick: long enough for
// TCP to leave slow start, short enough for CI.
const quickDuration = 2 * time.Second

// quickIdle is the idle wait under --quick: enough to see the reading work.
const quickIdle = 2 * time.Second

// defaultWireguardGo is where `make bench` installs wireguard-go
// (`go install` names the binary after the module: "wireguard").
const defaultWireguardGo = "bin/wireguard"

func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := options{Args: args}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./bench [flags]\n\n"+
			"Measures meshnet's data path against raw veth, kernel VXLAN and\n"+
			"wireguard-go between two network namespaces joined by a veth.\n\nflags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nsubjects: %s\n", strings.Join(subjectNames(), ", "))
	}
	subjects := fs.String("subjects", strings.Join(subjectNames(), ","), "comma-separated subjects to run, in this order")
	fs.IntVar(&o.Rounds, "rounds", 1, "measure every subject this many times, interleaved, and report the median (use 3 on a busy machine)")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "length of each iperf3 run")
	fs.IntVar(&o.Streams, "streams", 4, "parallel streams of the multi-stream TCP run")
	fs.IntVar(&o.PingCount, "ping-count", 50, "pings per subject (the median RTT is reported)")
	fs.DurationVar(&o.PingInterval, "ping-interval", 20*time.Millisecond, "interval between pings (10ms to 50ms)")
	fs.BoolVar(&o.Quick, "quick", false, fmt.Sprintf("smoke test: %s iperf3 runs (overrides --duration)", quickDuration))
	fs.StringVar(&o.JSON, "json", "", "write results here (default bench/results/<timestamp>.json)")
	fs.StringVar(&o.Meshnet, "meshnet", "", "meshnet binary (default: go build ./cmd/meshnet into a temporary directory)")
	fs.StringVar(&o.WireguardGo, "wireguard-go", defaultWireguardGo, "wireguard-go binary (make bench installs it)")
	fs.BoolVar(&o.Verbose, "v", false, "log every command to stderr")
	fs.DurationVar(&o.Idle, "idle", 30*time.Second, "after each meshnet or wireguard-go subject's load, wait this long and read its resident memory again (0: skip)")
	fs.StringVar(&o.Profile, "profile", "", "write each meshnet node's CPU profile and peak heap profile (pprof) into this directory")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q; every setting is a flag (see -h)", fs.Arg(0))
	}
	if o.Quick {
		o.Duration = quickDuration
		o.Idle = min(o.Idle, quickIdle)
	}
	if o.Profile != "" {
		abs, err := filepath.Abs(o.Profile)
		if err != nil {
			return o, fmt.Errorf("--profile %s: %w", o.Profile, err)
		}
		o.Profile = abs
	}
	for _, s := range strings.Split(*subjects, ",") {
		if s = strings.TrimSpace(s); s != "" {
			o.Subjects = append(o.Subjects, s)
		}
	}
	return o, o.validate()
}

func (o options) validate() error {
	if len(o.Subjects) == 0 {
		return fmt.Errorf("--subjects is empty; choose from %s", strings.Join(subjectNames(), ", "))
	}
	seen := map[string]bool{}
	for _, s := range o.Subjects {
		if findSubject(s) == nil {
			return fmt.Errorf("--subjects: unknown subject %q; choose from %s", s, strings.Join(subjectNames(), ", "))
		}
		if seen[s] {
			return fmt.Errorf("--subjects: %q is listed twice", s)
		}
		seen[s] = true
	}
	if o.Rounds < 1 || o.Rounds > 20 {
		return fmt.Errorf("--rounds %d: use 1 to 20", o.Rounds)
	}
	if o.Duration < time.Second {
		return fmt.Errorf("--duration %s is too short for iperf3; use at least 1s", o.Duration)
	}
	if o.Streams < 2 || o.Streams > 128 {
		return fmt.Errorf("--streams %d: use 2 to 128", o.Streams)
	}
	if o.PingCount < 1 {
		return fmt.Errorf("--ping-count %d: send at least one ping", o.PingCount)
	}
	if o.PingInterval < 10*time.Millisecond || o.PingInterval > 50*time.Millisecond {
		return fmt.Errorf("--ping-interval %s: use 10ms to 50ms", o.PingInterval)
	}
	return nil
}

// jsonPath is where results are written.
func (o options) jsonPath(started time.Time) string {
	if o.JSON != "" {
		return o.JSON
	}
	return filepath.Join("bench", "results", started.Format("20060102-150405")+".json")
}
