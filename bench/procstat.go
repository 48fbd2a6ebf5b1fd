package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat times: 100 on every
// Linux architecture's user ABI.
const clockTicks = 100

// procCPU returns a process's user+system CPU time in seconds, all threads
// included, from /proc/PID/stat.
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading CPU time of process %d: %w", pid, err)
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a stat line.
// The command name in field 2 may hold spaces and parentheses, so fields
// are counted from its closing parenthesis.
func parseStatCPU(stat string) (float64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc stat line %.60q", stat)
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state), so utime (14) is f[11] and stime (15) f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc stat line %.60q", stat)
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed CPU times in /proc stat line %.60q", stat)
	}
	return float64(ut+st) / clockTicks, nil
}

// procPeakRSS returns a process's peak resident set (VmHWM) in bytes.
func procPeakRSS(pid int) (int64, error) { return procStatusKB(pid, "VmHWM") }

// procRSS returns a process's current resident set (VmRSS) in bytes.
func procRSS(pid int) (int64, error) { return procStatusKB(pid, "VmRSS") }

func procStatusKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading memory of process %d: %w", pid, err)
	}
	return parseStatusKB(string(b), field)
}

// parseStatusKB finds "FIELD:   12345 kB" in a status file.
func parseStatusKB(status, field string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		v, ok := strings.CutPrefix(line, field+":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			break
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			break
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("no %s line in /proc status", field)
}

// procIs checks that pid runs binary and not, say, the `ip netns exec`
// that started it, so the figures are charged to the right process.
func procIs(pid int, binary string) error {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return fmt.Errorf("process %d: %w", pid, err)
	}
	comm, want := strings.TrimSpace(string(b)), filepath.Base(binary)
	if len(want) > 15 {
		want = want[:15] // the kernel keeps 15 bytes of the name
	}
	if comm != want {
		return fmt.Errorf("process %d is %q, not %q", pid, comm, want)
	}
	return nil
}

// systemCPU returns the machine's busy CPU time in seconds, every CPU and
// every process and the kernel's interrupt work included, from /proc/stat.
func systemCPU() (float64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("reading the machine's CPU time: %w", err)
	}
	return parseSystemCPU(string(b))
}

// parseSystemCPU sums the busy fields of /proc/stat's "cpu" line: user,
// nice, system, irq, softirq and steal (guest time is already in user).
// Idle and iowait are not busy.
func parseSystemCPU(stat string) (float64, error) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("malformed /proc/stat cpu line %.60q", line)
	}
	var busy uint64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system (idle iowait) irq softirq steal
		v, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("malformed /proc/stat cpu line %.60q", line)
		}
		busy += v
	}
	return float64(busy) / clockTicks, nil
}
