package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"meshnet.dev/meshnet/internal/testenv"
)

// TestQuickRun runs the harness as `make bench` would, in --quick mode, on
// raw veth, kernel VXLAN and meshnet TAP: every figure must be there and
// positive, the JSON must parse, and nothing may be left behind. It asserts
// nothing about speed: targets live in the printed benchmark, never in
// timed tests.
func TestQuickRun(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "iperf3", "ip", "ping")
	if testing.Short() {
		t.Skip("runs iperf3 between namespaces for about 30 s; not in -short mode")
	}
	path := filepath.Join(t.TempDir(), "results.json")
	opts, err := parseFlags([]string{"--quick", "--subjects", "veth,vxlan,meshnet-tap", "--json", path}, testLog{t})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := run(t.Context(), opts, testLog{t})
	if rep != nil {
		var table strings.Builder
		printTable(&table, rep)
		t.Logf("\n%s", table.String())
	}
	if err != nil {
		t.Fatal(err)
	}

	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got report
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("results are not JSON: %v", err)
	}
	if len(got.Subjects) != 3 || got.Machine.Cores < 1 || got.Machine.Kernel == "" || got.Machine.Date == "" {
		t.Fatalf("results lack subjects or machine info: %+v", got)
	}
	for _, s := range got.Subjects {
		checkFiguresPositive(t, s)
	}
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range got.Settings.Namespaces {
		if slices.Contains(strings.Fields(string(out)), ns) {
			t.Errorf("namespace %s is still there", ns)
		}
	}
}

func checkFiguresPositive(t *testing.T, s subjectResult) {
	t.Helper()
	if s.Skipped != "" || s.Error != "" {
		t.Errorf("%s: skipped %q, error %q", s.Name, s.Skipped, s.Error)
		return
	}
	if s.Ping == nil || s.TCP1 == nil || s.TCPN == nil || s.UDP == nil {
		t.Errorf("%s: figures missing: %+v", s.Name, s)
		return
	}
	positive := map[string]float64{
		"ping median":      s.Ping.MedianMs,
		"TCP 1 stream":     s.TCP1.BitsPerSecond,
		"TCP n streams":    s.TCPN.BitsPerSecond,
		"UDP delivered/s":  s.UDP.PacketsPerSecond,
		"MTU":              float64(s.MTU),
		"TCP bytes":        float64(s.TCP1.Bytes + s.TCPN.Bytes),
		"UDP packets sent": float64(s.UDP.Sent),
	}
	if s.System == nil {
		t.Errorf("%s: no whole-machine CPU figure", s.Name)
	} else {
		positive["machine CPU s/GB"] = s.System.CPUSecondsPerGB
	}
	if s.Kernel {
		if s.Overlay != nil {
			t.Errorf("%s: a kernel subject has overlay figures", s.Name)
		}
	} else if s.Overlay == nil {
		t.Errorf("%s: no overlay CPU and memory figures", s.Name)
	} else {
		positive["CPU s/GB"] = s.Overlay.CPUSecondsPerGB
		positive["peak RSS"] = float64(s.Overlay.PeakRSS)
		positive["idle RSS"] = float64(s.Overlay.IdleRSS)
		positive["idle private RSS"] = float64(s.Overlay.IdleAnon)
	}
	for name, v := range positive {
		if !(v > 0) {
			t.Errorf("%s: %s = %v, want > 0", s.Name, name, v)
		}
	}
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
