package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"meshnet.dev/meshnet/e2e/netlab"
)

// topology describes the link every subject rides on.
const topology = "two network namespaces joined by one veth (MTU 1500)"

// run measures every subject in opts and returns the report, which it has
// also written as JSON. Progress goes to progress. The error says what
// failed; the report is returned with it whenever there is one.
func run(ctx context.Context, opts options, progress io.Writer) (*report, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("the benchmark needs root to create network namespaces; run it with sudo (make bench does)")
	}
	for _, tool := range []string{"ip", "iperf3", "ping"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s is not on PATH; install it (make bench installs iperf3, iproute2 and iputils-ping)", tool)
		}
	}
	started := time.Now()
	rep := &report{
		Machine: describeMachine(ctx, started),
		Started: started,
		Settings: settings{Command: strings.TrimSpace("go run ./bench " + strings.Join(opts.Args, " ")),
			Subjects: opts.Subjects, Rounds: opts.Rounds, DurationSecs: opts.Duration.Seconds(), Streams: opts.Streams,
			UDPDatagram: udpDatagram, PingCount: opts.PingCount,
			PingIntervalMs: float64(opts.PingInterval) / float64(time.Millisecond), Quick: opts.Quick,
			IdleSecs: opts.Idle.Seconds(),
			Topology: topology},
	}
	tmp, err := os.MkdirTemp("", "meshnet-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	labLog := io.Discard
	if opts.Verbose {
		labLog = progress
	}
	lab, err := netlab.New(netlab.Options{Prefix: "mnbench", Dir: filepath.Join(tmp, "lab"), Log: labLog})
	if err != nil {
		return nil, err
	}
	defer lab.Close()
	a, b, err := lab.AddLinkedPair("a", "b")
	if err != nil {
		return nil, err
	}
	rep.Settings.Namespaces = []string{a.NS, b.NS}
	e := &env{opts: opts, lab: lab, a: a, b: b, log: labLog, progressOut: progress, tmp: tmp}

	// Every round runs every subject once, in order; several rounds spread
	// the machine's other work over all subjects instead of one.
	perSubject := map[string][]subjectResult{}
	for round := 1; round <= opts.Rounds && ctx.Err() == nil; round++ {
		if opts.Rounds > 1 {
			e.progress("round %d of %d", round, opts.Rounds)
		}
		var results []subjectResult
		for _, name := range opts.Subjects {
			if ctx.Err() != nil {
				break
			}
			r := e.runSubject(ctx, findSubject(name))
			switch {
			case r.Skipped != "":
				e.progress("%s: skipped, %s", r.Title, r.Skipped)
			case r.Error != "":
				e.progress("%s: FAILED: %s", r.Title, r.Error)
			}
			results = append(results, r)
			perSubject[name] = append(perSubject[name], r)
		}
		if opts.Rounds > 1 {
			rep.Rounds = append(rep.Rounds, results)
		}
	}
	var failed []string
	for _, name := range opts.Subjects {
		if rs := perSubject[name]; len(rs) > 0 {
			r := combineRounds(rs)
			if r.Error != "" {
				failed = append(failed, r.Title)
			}
			rep.Subjects = append(rep.Subjects, r)
		}
	}
	rep.Finished = time.Now()
	rep.Machine.LoadEnd = loadAvg1()
	e.recordVersions(ctx, rep)
	if ctx.Err() != nil {
		return rep, fmt.Errorf("interrupted; removed everything the run created, no results written")
	}
	path := opts.jsonPath(started)
	if err := writeJSON(path, rep); err != nil {
		return rep, err
	}
	fmt.Fprintf(progress, "results written to %s\n", path)
	if len(failed) > 0 {
		return rep, fmt.Errorf("%d subject(s) failed: %s", len(failed), strings.Join(failed, ", "))
	}
	return rep, nil
}

// recordVersions notes the versions of the overlays that were run.
func (e *env) recordVersions(ctx context.Context, rep *report) {
	for _, r := range rep.Subjects {
		if r.Skipped != "" {
			continue
		}
		switch {
		case r.Name == wgGoName:
			rep.Machine.WireguardGo = wireguardGoVersion(e.opts.WireguardGo)
		case strings.HasPrefix(r.Name, "meshnet-") && e.meshnet != "":
			if out, err := exec.CommandContext(ctx, e.meshnet, "version").Output(); err == nil {
				rep.Machine.Meshnet = strings.TrimSpace(string(out))
			}
		}
	}
}

func writeJSON(path string, rep *report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("writing results: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing results: %w", err)
	}
	return nil
}
