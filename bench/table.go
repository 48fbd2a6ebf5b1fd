package main

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// metric is one block of the printed table.
type metric struct {
	title string
	// value extracts the figure; ok is false when the subject has none.
	value  func(r *subjectResult) (v float64, ok bool)
	format func(v float64) string
	// overlay figures exist only for subjects with overlay processes.
	overlay bool
	// note adds a detail after the ratios.
	note func(r *subjectResult) string
}

func metrics(streams int) []metric {
	return []metric{
		{title: "TCP throughput, 1 stream (higher is better)", format: fmtBits,
			value: func(r *subjectResult) (float64, bool) { return tcpBits(r.TCP1) },
			note:  func(r *subjectResult) string { return tcpNote(r.TCP1) }},
		{title: fmt.Sprintf("TCP throughput, %d streams (higher is better)", streams), format: fmtBits,
			value: func(r *subjectResult) (float64, bool) { return tcpBits(r.TCPN) },
			note:  func(r *subjectResult) string { return tcpNote(r.TCPN) }},
		{title: fmt.Sprintf("UDP, %d-byte datagrams, delivered packets/s (higher is better)", udpDatagram), format: fmtPPS,
			value: func(r *subjectResult) (float64, bool) {
				if r.UDP == nil {
					return 0, false
				}
				return r.UDP.PacketsPerSecond, true
			},
			note: func(r *subjectResult) string {
				if r.UDP == nil {
					return ""
				}
				return fmt.Sprintf("loss %.1f%%", r.UDP.LossPercent)
			}},
		{title: "ping RTT, median (lower is better)", format: func(v float64) string { return fmt.Sprintf("%.3f ms", v) },
			value: func(r *subjectResult) (float64, bool) {
				if r.Ping == nil {
					return 0, false
				}
				return r.Ping.MedianMs, true
			}},
		{title: "overlay CPU per GB moved over TCP, both ends (lower is better)", overlay: true,
			format: func(v float64) string { return fmt.Sprintf("%.2f s/GB", v) },
			value: func(r *subjectResult) (float64, bool) {
				if r.Overlay == nil {
					return 0, false
				}
				return r.Overlay.CPUSecondsPerGB, true
			}},
		{title: "whole machine CPU per GB moved over TCP: both ends, iperf3 and the kernel (lower is better)",
			format: func(v float64) string { return fmt.Sprintf("%.2f s/GB", v) },
			value: func(r *subjectResult) (float64, bool) {
				if r.System == nil || r.System.CPUSecondsPerGB == 0 {
					return 0, false
				}
				return r.System.CPUSecondsPerGB, true
			}},
		{title: "overlay peak RSS, larger of the two processes (lower is better)", overlay: true,
			format: func(v float64) string { return fmt.Sprintf("%.1f MiB", v/(1<<20)) },
			value: func(r *subjectResult) (float64, bool) {
				if r.Overlay == nil {
					return 0, false
				}
				return float64(r.Overlay.PeakRSS), true
			}},
		idleMemory("overlay RSS once idle after the load, larger of the two (lower is better)",
			func(u *usage) int64 { return u.IdleRSS }),
		idleMemory("overlay private memory once idle (RssAnon: RSS without the binary's shared pages), larger of the two (lower is better)",
			func(u *usage) int64 { return u.IdleAnon }),
	}
}

// idleMemory is an overlay memory figure taken once idle, absent (0) when
// the run did not wait for idle.
func idleMemory(title string, get func(*usage) int64) metric {
	return metric{title: title, overlay: true,
		format: func(v float64) string { return fmt.Sprintf("%.1f MiB", v/(1<<20)) },
		value: func(r *subjectResult) (float64, bool) {
			if r.Overlay == nil || get(r.Overlay) == 0 {
				return 0, false
			}
			return float64(get(r.Overlay)), true
		}}
}

func tcpBits(t *tcpResult) (float64, bool) {
	if t == nil {
		return 0, false
	}
	return t.BitsPerSecond, true
}

func tcpNote(t *tcpResult) string {
	if t == nil {
		return ""
	}
	return fmt.Sprintf("%d retransmits", t.Retransmits)
}

func fmtBits(v float64) string {
	if v >= 1e9 {
		return fmt.Sprintf("%.2f Gbit/s", v/1e9)
	}
	return fmt.Sprintf("%.0f Mbit/s", v/1e6)
}

func fmtPPS(v float64) string {
	if v >= 1e6 {
		return fmt.Sprintf("%.2f Mpps", v/1e6)
	}
	return fmt.Sprintf("%.0f kpps", v/1e3)
}

// printTable writes every metric as a block of subjects with their ratios
// to raw veth and to wireguard-go, then what was skipped or failed.
func printTable(w io.Writer, rep *report) {
	m := rep.Machine
	fmt.Fprintf(w, "meshnet data path benchmark, %s\n", m.Date)
	fmt.Fprintf(w, "%s, %d cores, Linux %s, %s, %s\n", m.CPUModel, m.Cores, m.Kernel, m.GoVersion, m.Iperf3)
	fmt.Fprintf(w, "%s; iperf3 runs of %gs; load average %.2f at start, %.2f at end\n",
		rep.Settings.Topology, rep.Settings.DurationSecs, m.LoadStart, m.LoadEnd)
	if rep.Settings.Rounds > 1 {
		fmt.Fprintf(w, "%d interleaved rounds; each figure is the median round's\n", rep.Settings.Rounds)
	}
	fmt.Fprintf(w, "Ratios compare subjects measured in this run; other work on the machine skews them.\n")
	ref := map[string]*subjectResult{}
	for i := range rep.Subjects {
		ref[rep.Subjects[i].Name] = &rep.Subjects[i]
	}
	// One block per metric; columns are aligned across all blocks.
	type block struct {
		title string
		rows  [][]string
	}
	var blocks []block
	for _, mt := range metrics(rep.Settings.Streams) {
		b := block{title: mt.title}
		for i := range rep.Subjects {
			r := &rep.Subjects[i]
			if r.Skipped != "" {
				continue
			}
			v, ok := mt.value(r)
			switch {
			case mt.overlay && r.Kernel:
				b.rows = append(b.rows, []string{r.Title, "kernel", "n/a", "n/a", ""})
			case !ok:
				b.rows = append(b.rows, []string{r.Title, "failed", "", "", ""})
			default:
				note := ""
				if mt.note != nil {
					note = mt.note(r)
				}
				b.rows = append(b.rows, []string{r.Title, mt.format(v),
					ratio(mt, v, ref[baselineName], "veth"), ratio(mt, v, ref[wgGoName], "wg-go"), note})
			}
		}
		blocks = append(blocks, b)
	}
	var widths [5]int
	for _, b := range blocks {
		for _, row := range b.rows {
			for c, cell := range row {
				widths[c] = max(widths[c], utf8.RuneCountInString(cell))
			}
		}
	}
	for _, b := range blocks {
		fmt.Fprintf(w, "\n%s\n", b.title)
		for _, row := range b.rows {
			line := "  " + pad(row[0], widths[0], false)
			for c := 1; c < 4; c++ {
				line += "  " + pad(row[c], widths[c], true)
			}
			if row[4] != "" {
				line += "  " + row[4]
			}
			fmt.Fprintln(w, line)
		}
	}
	fmt.Fprintf(w, "\nsubjects: MTU, the machine's 1-minute load average when each started and the CPU other work used in the second before (medians over rounds)\n")
	busy := 0
	for _, r := range rep.Subjects {
		if r.Skipped == "" {
			flag := ""
			if r.BusyRounds > 0 {
				flag = fmt.Sprintf("  BUSY: in %d of %d rounds other work used over %.1f cores just before", r.BusyRounds, max(1, rep.Settings.Rounds), busyCores)
				busy++
			}
			fmt.Fprintf(w, "  %s  MTU %d  load %.2f  other %.2f cores%s\n", pad(r.Title, widths[0], false), r.MTU, r.LoadAvg, r.OtherCPU, flag)
		}
	}
	if busy > 0 {
		fmt.Fprintf(w, "%d subjects ran while something else kept the machine busy: compare their figures with care, or run again on an idle machine\n", busy)
	}
	first := true
	for _, r := range rep.Subjects {
		if r.Skipped == "" && r.Error == "" {
			continue
		}
		if first {
			fmt.Fprintln(w)
			first = false
		}
		if r.Skipped != "" {
			fmt.Fprintf(w, "%s: %s\n", r.Title, r.Skipped)
		} else {
			fmt.Fprintf(w, "%s: FAILED: %s\n", r.Title, r.Error)
		}
	}
}

// pad pads s with spaces to width runes, on the left when right-aligning.
func pad(s string, width int, right bool) string {
	fill := strings.Repeat(" ", max(0, width-utf8.RuneCountInString(s)))
	if right {
		return fill + s
	}
	return s + fill
}

// ratio formats v relative to the reference subject's figure, or n/a when
// the reference has none (not run, failed, or a kernel subject).
func ratio(mt metric, v float64, ref *subjectResult, label string) string {
	if ref == nil {
		return "n/a " + label
	}
	rv, ok := mt.value(ref)
	if !ok || rv == 0 || (mt.overlay && ref.Kernel) {
		return "n/a " + label
	}
	return fmt.Sprintf("%.2f× %s", v/rv, label)
}
