package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// machine describes where the figures were taken.
type machine struct {
	CPUModel    string  `json:"cpu_model"`
	Cores       int     `json:"cores"`
	Kernel      string  `json:"kernel"`
	GoVersion   string  `json:"go_version"`
	MemoryBytes int64   `json:"memory_bytes"`
	Date        string  `json:"date"`
	Iperf3      string  `json:"iperf3"`
	WireguardGo string  `json:"wireguard_go,omitempty"`
	Meshnet     string  `json:"meshnet,omitempty"`
	LoadStart   float64 `json:"load_avg_1m_start"`
	LoadEnd     float64 `json:"load_avg_1m_end"`
}

func describeMachine(ctx context.Context, now time.Time) machine {
	m := machine{
		CPUModel:  cpuModel(),
		Cores:     runtime.NumCPU(),
		Kernel:    readTrim("/proc/sys/kernel/osrelease"),
		GoVersion: runtime.Version(),
		Date:      now.Format(time.RFC3339),
		LoadStart: loadAvg1(),
	}
	m.MemoryBytes = memTotal()
	if out, err := exec.CommandContext(ctx, "iperf3", "--version").Output(); err == nil {
		m.Iperf3, _, _ = strings.Cut(strings.TrimSpace(string(out)), "\n")
	}
	return m
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// memTotal is MemTotal of /proc/meminfo in bytes, 0 when unknown.
func memTotal() int64 {
	for _, line := range strings.Split(readTrim("/proc/meminfo"), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(v)
			if len(f) == 2 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

// loadAvg1 is the 1-minute load average, -1 when unknown.
func loadAvg1() float64 {
	f := strings.Fields(readTrim("/proc/loadavg"))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}
