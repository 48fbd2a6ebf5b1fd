package main

import (
	"strings"
	"testing"
)

func TestCombineRoundsTakesTheMedianRound(t *testing.T) {
	round := func(gbps, rttMs, cpuPerGB float64, rss int64, load float64) subjectResult {
		return subjectResult{Name: "meshnet-tap", Title: "meshnet TAP", LoadAvg: load, Duration: 30,
			TCP1:    &tcpResult{BitsPerSecond: gbps * 1e9, Retransmits: int64(gbps)},
			TCPN:    &tcpResult{BitsPerSecond: gbps * 1e9},
			UDP:     &udpResult{PacketsPerSecond: gbps * 1e4},
			Ping:    &pingResult{MedianMs: rttMs},
			Overlay: &usage{CPUSecondsPerGB: cpuPerGB, PeakRSS: rss},
			System:  &systemUsage{CPUSecondsPerGB: 2 * cpuPerGB}}
	}
	// The second round was disturbed: slow and late.
	got := combineRounds([]subjectResult{round(3, 0.3, 2, 40<<20, 1), round(1, 2.0, 9, 90<<20, 8), round(2, 0.4, 3, 50<<20, 2)})
	if got.TCP1.BitsPerSecond != 2e9 || got.TCP1.Retransmits != 2 {
		t.Errorf("TCP = %+v, want the 2 Gbit/s round with its own retransmits", got.TCP1)
	}
	if got.Ping.MedianMs != 0.4 || got.Overlay.CPUSecondsPerGB != 3 || got.LoadAvg != 2 {
		t.Errorf("ping %v ms, cpu %v s/GB, load %v; want 0.4, 3, 2", got.Ping.MedianMs, got.Overlay.CPUSecondsPerGB, got.LoadAvg)
	}
	if got.System.CPUSecondsPerGB != 6 {
		t.Errorf("machine CPU %v s/GB, want the median round's 6", got.System.CPUSecondsPerGB)
	}
	if got.Overlay.PeakRSS != 90<<20 {
		t.Errorf("peak RSS %d, want the largest of all rounds", got.Overlay.PeakRSS)
	}
	if got.Duration != 90 {
		t.Errorf("wall time %v, want the sum of all rounds", got.Duration)
	}
	// Even counts take the lower middle: always a measured run.
	if two := combineRounds([]subjectResult{round(3, 1, 1, 1, 1), round(1, 1, 1, 1, 1)}); two.TCP1.BitsPerSecond != 1e9 {
		t.Errorf("median of two rounds = %v", two.TCP1.BitsPerSecond)
	}
}

func TestCombineRoundsKeepsFailuresAndSkips(t *testing.T) {
	ok := subjectResult{Name: "x", TCP1: &tcpResult{BitsPerSecond: 1}}
	bad := subjectResult{Name: "x", Error: "iperf3: connection refused"}
	got := combineRounds([]subjectResult{ok, bad, bad})
	if got.TCP1 == nil || !strings.Contains(got.Error, "connection refused") || strings.Count(got.Error, "refused") != 1 {
		t.Errorf("combined = %+v; want the good round's figures and the error once", got)
	}
	skip := subjectResult{Name: "x", Skipped: "not available in this build: no"}
	if got := combineRounds([]subjectResult{skip, skip}); got.Skipped == "" {
		t.Error("a subject skipped in every round is not reported as skipped")
	}
}

func TestCombineRoundsCountsBusyRounds(t *testing.T) {
	calm := subjectResult{Name: "x", OtherCPU: 0.1}
	busy := subjectResult{Name: "x", OtherCPU: 1.5, BusyRounds: 1}
	if got := combineRounds([]subjectResult{calm, busy, busy}); got.BusyRounds != 2 {
		t.Fatalf("busy rounds %d, want 2", got.BusyRounds)
	}
	var out strings.Builder
	rep := &report{Settings: settings{Rounds: 3}, Subjects: []subjectResult{combineRounds([]subjectResult{calm, busy, busy})}}
	printTable(&out, rep)
	if !strings.Contains(out.String(), "BUSY: in 2 of 3 rounds") {
		t.Fatalf("the table does not flag the busy rounds:\n%s", out.String())
	}
}
