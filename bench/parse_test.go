package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// The command name holds a space and a parenthesis: fields are counted
	// from the last ')'.
	stat := "4242 (mesh net)) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 125 0 0 20 0 12 0 1000 2000000 3000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0"
	got, err := parseStatCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 3.75; got != want {
		t.Fatalf("cpu = %v s, want %v (250+125 ticks at %d Hz)", got, want, clockTicks)
	}
	for _, bad := range []string{"", "4242 (x", "4242 (x) S 1 2", "4242 (x) S 1 2 3 4 5 6 7 8 9 10 x y"} {
		if _, err := parseStatCPU(bad); err == nil {
			t.Errorf("parseStatCPU(%q) accepted a malformed line", bad)
		}
	}
}

func TestParseSystemCPU(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	stat := "cpu  1000 20 300 99999 500 7 60 3 100 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n"
	got, err := parseSystemCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 13.9; got < want-1e-9 || got > want+1e-9 {
		t.Fatalf("busy = %v s, want %v (user+nice+system+irq+softirq+steal)", got, want)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5 6 7 8", "cpu 1 2 3", "cpu 1 2 x 4 5 6 7 8"} {
		if _, err := parseSystemCPU(bad); err == nil {
			t.Errorf("parseSystemCPU(%q) accepted a malformed line", bad)
		}
	}
}

func TestParseStatusKB(t *testing.T) {
	status := "Name:\tmeshnet\nVmPeak:\t  900 kB\nVmHWM:\t   38068 kB\nVmRSS:\t 30000 kB\n"
	for field, want := range map[string]int64{"VmHWM": 38068 * 1024, "VmRSS": 30000 * 1024} {
		if got, err := parseStatusKB(status, field); err != nil || got != want {
			t.Errorf("parseStatusKB(%s) = %d, %v; want %d", field, got, err, want)
		}
	}
	if _, err := parseStatusKB("Name:\tx\n", "VmHWM"); err == nil {
		t.Fatal("parseStatusKB accepted a status without VmHWM")
	}
}

func TestPingSummary(t *testing.T) {
	out := `PING 10.77.0.2 (10.77.0.2) 56(84) bytes of data.
64 bytes from 10.77.0.2: icmp_seq=1 ttl=64 time=0.412 ms
64 bytes from 10.77.0.2: icmp_seq=2 ttl=64 time=0.101 ms
64 bytes from 10.77.0.2: icmp_seq=4 ttl=64 time=0.250 ms
64 bytes from 10.77.0.2: icmp_seq=5 ttl=64 time=0.300 ms

--- 10.77.0.2 ping statistics ---
5 packets transmitted, 4 received, 20% packet loss, time 80ms
rtt min/avg/max/mdev = 0.101/0.265/0.412/0.111 ms`
	rtts := parsePingRTTs(out)
	if len(rtts) != 4 {
		t.Fatalf("parsed %d round trips, want 4: %v", len(rtts), rtts)
	}
	p := summarisePing(5, rtts)
	if p.MedianMs != 0.275 || p.MinMs != 0.101 || p.MaxMs != 0.412 || p.Received != 4 || p.Sent != 5 {
		t.Fatalf("summary = %+v", p)
	}
	if odd := summarisePing(3, []float64{3, 1, 2}); odd.MedianMs != 2 {
		t.Fatalf("median of 1,2,3 = %v", odd.MedianMs)
	}
}

func TestParseIperf(t *testing.T) {
	// Trimmed from iperf 3.12: a UDP run's receiver summary counts the
	// highest sequence number seen and the gaps.
	udp := `{"start":{},"intervals":[],"end":{
		"sum_sent":{"seconds":2.0,"bytes":21662720,"packets":338480,"lost_packets":0,"sender":true},
		"sum_received":{"seconds":2.0,"bytes":15791360,"packets":338480,"lost_packets":91740,"lost_percent":27.1,"sender":false}}}`
	r, err := parseIperf([]byte(udp))
	if err != nil {
		t.Fatal(err)
	}
	u := udpFromReport(r)
	if u.Delivered != 246740 || u.PacketsPerSecond != 123370 || u.LossPercent != 27.1 {
		t.Fatalf("udp = %+v", u)
	}
	failed := `{"start":{},"intervals":[],"end":{},"error":"unable to connect to server: Connection timed out"}`
	if _, err := parseIperf([]byte(failed)); err == nil || !strings.Contains(err.Error(), "unable to connect") {
		t.Fatalf("iperf3's own error was not passed on: %v", err)
	}
	if _, err := parseIperf([]byte("iperf3: error - unable to connect")); err == nil {
		t.Fatal("parseIperf accepted text that is not JSON")
	}
}

func TestFlags(t *testing.T) {
	o, err := parseFlags([]string{"--quick", "--subjects", "veth, meshnet-tap"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Duration != quickDuration || len(o.Subjects) != 2 || o.Subjects[1] != "meshnet-tap" {
		t.Fatalf("options = %+v", o)
	}
	if p := o.jsonPath(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)); p != "bench/results/20260102-030405.json" {
		t.Fatalf("default results path %q", p)
	}
	for _, bad := range [][]string{
		{"--subjects", "veth,nope"},
		{"--subjects", "veth,veth"},
		{"--subjects", ""},
		{"--duration", "100ms"},
		{"--ping-interval", "1ms"},
		{"--streams", "1"},
		{"extra"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted bad flags", bad)
		}
	}
}

func TestEverySubjectIsComplete(t *testing.T) {
	for _, s := range subjects() {
		if s.Name == "" || s.Title == "" || s.Check == nil || s.Start == nil {
			t.Errorf("subject %+v is incomplete", s)
		}
	}
	if findSubject(baselineName) == nil || findSubject(wgGoName) == nil {
		t.Fatal("a reference subject is missing")
	}
}

func TestTableShowsRatiosAndSkips(t *testing.T) {
	rep := &report{Settings: settings{Streams: 4}, Subjects: []subjectResult{
		{Name: baselineName, Title: "raw veth", Kernel: true, TCP1: &tcpResult{BitsPerSecond: 10e9}},
		{Name: wgGoName, Title: "wireguard-go", TCP1: &tcpResult{BitsPerSecond: 2e9}, Overlay: &usage{CPUSecondsPerGB: 4, PeakRSS: 8 << 20}},
		{Name: "meshnet-tap", Title: "meshnet TAP", TCP1: &tcpResult{BitsPerSecond: 2.61e9}, Overlay: &usage{CPUSecondsPerGB: 2, PeakRSS: 4 << 20}},
		{Name: "meshnet-tap-enc", Title: "meshnet TAP encrypted", Skipped: "not available in this build: no"},
	}}
	var b strings.Builder
	printTable(&b, rep)
	out := b.String()
	for _, want := range []string{
		"2.61 Gbit/s  0.26× veth  1.30× wg-go",
		"2.00 s/GB    n/a veth  0.50× wg-go",
		"kernel",
		"meshnet TAP encrypted: not available in this build",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
