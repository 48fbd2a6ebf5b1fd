package sim

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Report is a whole run: the main results per N (topology-aware fanout,
// production), the random-fanout comparison runs, and how it was run.
type Report struct {
	Command string
	Main    []Result
	Random  []Result
	// Host describes the machine (cores, Go version).
	Host string
}

// ms formats a virtual duration in seconds with millisecond precision,
// or "never" for -1.
func secs(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func mib(b uint64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func bps(v float64) string {
	switch {
	case v >= 10<<20:
		return fmt.Sprintf("%.1f MB/s", v/1e6)
	case v >= 10_000:
		return fmt.Sprintf("%.1f kB/s", v/1e3)
	}
	return fmt.Sprintf("%.0f B/s", v)
}

func (r Result) failure(loss float64) *FailureRun {
	for i := range r.Failures {
		if r.Failures[i].Loss == loss {
			return &r.Failures[i]
		}
	}
	return nil
}

// WriteMarkdown writes the result tables.
func (rep Report) WriteMarkdown(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("Convergence of one write to the other members (median of %s; worst 100%% in brackets), and what the cluster sends:\n\n", trialsText(rep.Main))
	p("| N | 50%% | 99%% | 100%% | idle B/node/s (packets + streams) | churn B/node/s | build (virtual) | wall | CPU | live heap | peak RSS | goroutines |\n")
	p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rep.Main {
		p("| %d | %s | %s | %s (%s) | %s (%s + %s) | %s | %s | %s | %s | %s | %s | %d |\n",
			r.N, secs(r.Write.P50), secs(r.Write.P99), secs(r.Write.P100), secs(r.Write.WorstP100),
			bps(r.Idle.PerNode), bps(r.Idle.Packet), bps(r.Idle.Stream), bps(r.Churn.PerNode),
			secs(r.Build), r.Wall.Round(time.Second), r.CPU.Round(time.Second), mib(r.LiveHeap), mib(r.PeakRSS), r.Goroutines)
	}
	p("\nFailure detection: %s under random packet loss on every link (a crash black-holes the node's links, then shuts its DB down); time until the first and the last live member marked a crash failed (medians over the crashes, and the slowest crash), and false positives (a live node marked failed by another) over the whole window:\n\n", crashText(rep.Main))
	p("| N | loss | crashes | first (median) | all members (median) | all members (slowest) | marked (least) | false positives (distinct nodes) |\n")
	p("|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rep.Main {
		for _, f := range r.Failures {
			p("| %d | %.0f%% | %d | %s | %s | %s | %.1f%% | %d (%d) |\n", r.N, f.Loss*100, len(f.Crashes), secs(f.First), secs(f.All), secs(f.Worst), f.Marked*100, f.FalsePositives, f.Victims)
		}
	}
	if len(rep.Random) > 0 {
		p("\nTopology-aware fanout (production default) against random fanout. Cross-region bytes are every byte on links between regions, memberlist's included; \"churn extra\" is churn minus idle, the part table gossip adds:\n\n")
		p("| N | fanout | 99%% | 100%% | cross-region idle | cross-region churn | churn extra | cross-region share of churn bytes | Vivaldi coverage |\n")
		p("|---:|---|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, rr := range rep.Random {
			for _, r := range rep.Main {
				if r.N == rr.N {
					topoRow(p, r, "topology-aware")
				}
			}
			topoRow(p, rr, "random")
		}
	}
	for _, r := range rep.Main {
		if b := r.Bulk; b != nil {
			p("\nJoining a network that holds %d entries (N = %d, %d members; filling it took %s): the joiner held every entry %s after JoinNetwork, having received %s and sent %s; in the first 10 s it received %s in all, of which %d bulk-sync messages carried %s of payload (%s per full-table sync, before compression and encryption). Before that, the same node joined the cluster with `%s` already joined, as a daemon does: it held every live node's endpoint %s after Join returned.\n",
				b.Entries, r.N, b.Members, secs(b.Fill), secs(b.Time), kb(b.Received), kb(b.Sent), kb(b.Received10s), b.SyncMessages, kb(b.SyncPayload), kb(b.SyncPayload/max(b.SyncMessages, 1)), testNetwork, secs(b.Cold))
		}
	}
}

func kb(b uint64) string { return fmt.Sprintf("%.1f kB", float64(b)/1e3) }

func topoRow(p func(string, ...any), r Result, mode string) {
	extra := r.Churn.CrossRegion - r.Idle.CrossRegion
	share := 0.0
	if r.Churn.Total > 0 {
		share = r.Churn.CrossRegion / r.Churn.Total
	}
	p("| %d | %s | %s | %s | %s | %s | %s | %.0f%% | %.0f%% |\n", r.N, mode, secs(r.Write.P99), secs(r.Write.P100),
		bps(r.Idle.CrossRegion), bps(r.Churn.CrossRegion), bps(extra), share*100, r.Coords*100)
}

func trialsText(rs []Result) string {
	if len(rs) == 0 {
		return "0 writes"
	}
	return fmt.Sprintf("%d writes from random nodes", rs[0].Write.Trials)
}

func crashText(rs []Result) string {
	if len(rs) == 0 {
		return "no crashes"
	}
	p := rs[0].Params
	return fmt.Sprintf("up to %d crashes of random nodes per loss rate (a quarter of the nodes at most, in all), evenly spread over a %v window,", max(p.Crashes, 1), p.FailureWindow)
}

// WriteText writes the tables for a terminal (the markdown is readable as
// it is).
func (rep Report) WriteText(w io.Writer) {
	var b strings.Builder
	rep.WriteMarkdown(&b)
	_, _ = io.WriteString(w, b.String())
}
