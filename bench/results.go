package main

import "time"

// report is everything one run measured; it is written as JSON.
type report struct {
	Machine  machine   `json:"machine"`
	Settings settings  `json:"settings"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Subjects are the figures, combined over the rounds (combineRounds).
	Subjects []subjectResult `json:"subjects"`
	// Rounds are each round's own figures, when there was more than one.
	Rounds [][]subjectResult `json:"rounds,omitempty"`
}

// settings records how the run was made.
type settings struct {
	Command        string   `json:"command"`
	Subjects       []string `json:"subjects"`
	Rounds         int      `json:"rounds"`
	DurationSecs   float64  `json:"duration_seconds"`
	Streams        int      `json:"streams"`
	UDPDatagram    int      `json:"udp_datagram_bytes"`
	PingCount      int      `json:"ping_count"`
	PingIntervalMs float64  `json:"ping_interval_ms"`
	Quick          bool     `json:"quick"`
	IdleSecs       float64  `json:"idle_seconds"`
	Topology       string   `json:"topology"`
	// Namespaces are the two hosts' network namespaces (all removed).
	Namespaces []string `json:"namespaces"`
}

// subjectResult is one subject's figures. A skipped subject has only
// Skipped; a failed one has Error and whatever was measured before it.
type subjectResult struct {
	Name    string `json:"name"`
	Title   string `json:"title"`
	Kernel  bool   `json:"kernel"`
	Skipped string `json:"skipped,omitempty"`
	Error   string `json:"error,omitempty"`
	MTU     int    `json:"mtu,omitempty"`
	// LoadAvg is the machine's 1-minute load average when the subject
	// started: a hint of how much else was running.
	LoadAvg float64 `json:"load_avg_1m"`
	// OtherCPU is the CPU, in cores, the machine used in the second before
	// the subject started, while the benchmark ran nothing.
	OtherCPU float64 `json:"other_cpu_cores"`
	// BusyRounds counts the rounds that started with OtherCPU above
	// busyCores: their figures are suspect.
	BusyRounds int         `json:"busy_rounds,omitempty"`
	Ping       *pingResult `json:"ping,omitempty"`
	TCP1       *tcpResult  `json:"tcp_1_stream,omitempty"`
	TCPN       *tcpResult  `json:"tcp_n_streams,omitempty"`
	UDP        *udpResult  `json:"udp_small,omitempty"`
	Overlay    *usage      `json:"overlay,omitempty"` // nil for kernel subjects
	// System is the whole machine's CPU over the TCP runs, for every
	// subject, kernel ones included.
	System   *systemUsage `json:"system,omitempty"`
	Duration float64      `json:"wall_seconds"`
}

// systemUsage is the machine's busy CPU time (/proc/stat: every process,
// both ends, iperf3 and the kernel) over the TCP runs.
type systemUsage struct {
	CPUSeconds      float64 `json:"cpu_seconds"`
	BytesMoved      int64   `json:"bytes_moved"`
	CPUSecondsPerGB float64 `json:"cpu_seconds_per_gb"`
}

// tcpResult is one iperf3 TCP run, as the receiver counted it.
type tcpResult struct {
	Streams       int     `json:"streams"`
	Seconds       float64 `json:"seconds"`
	Bytes         int64   `json:"bytes"`
	BitsPerSecond float64 `json:"bits_per_second"`
	Retransmits   int64   `json:"retransmits"`
}

// udpResult is one iperf3 UDP run at unlimited rate.
type udpResult struct {
	Datagram         int     `json:"datagram_bytes"`
	Seconds          float64 `json:"seconds"`
	Sent             int64   `json:"packets_sent"`
	Delivered        int64   `json:"packets_delivered"`
	PacketsPerSecond float64 `json:"delivered_per_second"`
	LossPercent      float64 `json:"loss_percent"`
}

// pingResult is the round trip times of one ping run, in milliseconds.
type pingResult struct {
	Sent     int     `json:"sent"`
	Received int     `json:"received"`
	MedianMs float64 `json:"median_ms"`
	MinMs    float64 `json:"min_ms"`
	MaxMs    float64 `json:"max_ms"`
}

// usage is what the overlay processes (both ends) consumed.
type usage struct {
	// CPUSeconds is user+system time of both processes over the TCP runs.
	CPUSeconds float64 `json:"cpu_seconds"`
	// BytesMoved is what the receivers got in those runs.
	BytesMoved int64 `json:"bytes_moved"`
	// CPUSecondsPerGB is CPUSeconds per 10^9 bytes moved.
	CPUSecondsPerGB float64 `json:"cpu_seconds_per_gb"`
	// PeakRSS is the larger VmHWM of the two processes, in bytes.
	PeakRSS int64 `json:"peak_rss_bytes"`
	// IdleRSS is the larger VmRSS of the two processes Settings.IdleSecs
	// after the load stopped, in bytes; 0 if not measured.
	IdleRSS int64 `json:"idle_rss_bytes,omitempty"`
	// IdleAnon is the larger RssAnon at the same moment: IdleRSS without
	// the pages of the binary and libraries, which every process running
	// them shares and the kernel can drop.
	IdleAnon  int64       `json:"idle_anon_bytes,omitempty"`
	Processes []procUsage `json:"processes"`
}

// procUsage is one overlay process.
type procUsage struct {
	Host       string  `json:"host"`
	Command    string  `json:"command"`
	CPUSeconds float64 `json:"cpu_seconds"`
	PeakRSS    int64   `json:"peak_rss_bytes"`
	IdleRSS    int64   `json:"idle_rss_bytes,omitempty"`
	IdleAnon   int64   `json:"idle_anon_bytes,omitempty"`
}
