package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"meshnet.dev/meshnet/e2e/netlab"
)

// udpDatagram is the UDP payload size: small packets measure per-packet
// cost, which is where an overlay's overhead shows most.
const udpDatagram = 64

// iperfSum is one "sum_sent"/"sum_received" block of iperf3's -J output.
type iperfSum struct {
	Seconds       float64 `json:"seconds"`
	Bytes         int64   `json:"bytes"`
	BitsPerSecond float64 `json:"bits_per_second"`
	Retransmits   int64   `json:"retransmits"`
	Packets       int64   `json:"packets"`
	LostPackets   int64   `json:"lost_packets"`
	LostPercent   float64 `json:"lost_percent"`
}

// iperfReport is the part of iperf3's -J output the harness reads.
type iperfReport struct {
	End struct {
		SumSent     iperfSum `json:"sum_sent"`
		SumReceived iperfSum `json:"sum_received"`
	} `json:"end"`
	Error string `json:"error"`
}

// parseIperf decodes iperf3's JSON and turns a reported error into one.
func parseIperf(out []byte) (*iperfReport, error) {
	var r iperfReport
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("iperf3 printed something that is not its JSON report: %w: %.200q", err, out)
	}
	if r.Error != "" {
		return nil, fmt.Errorf("iperf3: %s", r.Error)
	}
	if r.End.SumReceived.Seconds <= 0 {
		return nil, fmt.Errorf("iperf3's report has no receiver summary")
	}
	return &r, nil
}

// iperfClient runs an iperf3 client in h against dst for d and returns its
// report.
func (e *env) iperfClient(ctx context.Context, h *netlab.Host, dst netip.Addr, d time.Duration, args ...string) (*iperfReport, error) {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	args = append([]string{"-c", dst.String(), "-J", "--connect-timeout", "5000",
		"-t", fmt.Sprint(int(d.Round(time.Second).Seconds()))}, args...)
	fmt.Fprintf(e.log, "+ [%s] iperf3 %s\n", h.Name, strings.Join(args, " "))
	out, runErr := h.Command(ctx, "iperf3", args...).Output()
	r, err := parseIperf(out)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("iperf3 to %s: %w", dst, ctx.Err())
		}
		return nil, fmt.Errorf("iperf3 to %s: %w", dst, err)
	}
	if runErr != nil {
		return nil, fmt.Errorf("iperf3 to %s: %w", dst, runErr)
	}
	return r, nil
}

// measureTCP runs a TCP test with the given number of parallel streams.
func (e *env) measureTCP(ctx context.Context, dst netip.Addr, streams int) (*tcpResult, error) {
	r, err := e.iperfClient(ctx, e.a, dst, e.opts.Duration, "-P", fmt.Sprint(streams))
	if err != nil {
		return nil, err
	}
	rx := r.End.SumReceived
	return &tcpResult{Streams: streams, Seconds: rx.Seconds, Bytes: rx.Bytes,
		BitsPerSecond: rx.BitsPerSecond, Retransmits: r.End.SumSent.Retransmits}, nil
}

// measureUDP sends small datagrams as fast as one iperf3 sender can and
// counts what the receiver got.
func (e *env) measureUDP(ctx context.Context, dst netip.Addr) (*udpResult, error) {
	r, err := e.iperfClient(ctx, e.a, dst, e.opts.Duration, "-u", "-b", "0", "-l", fmt.Sprint(udpDatagram))
	if err != nil {
		return nil, err
	}
	return udpFromReport(r), nil
}

// udpFromReport reads a UDP run: "packets" is the highest sequence number
// the receiver saw and "lost_packets" the gaps, so delivered is their
// difference.
func udpFromReport(r *iperfReport) *udpResult {
	rx := r.End.SumReceived
	delivered := rx.Packets - rx.LostPackets
	return &udpResult{Datagram: udpDatagram, Seconds: rx.Seconds, Sent: rx.Packets, Delivered: delivered,
		PacketsPerSecond: float64(delivered) / rx.Seconds, LossPercent: rx.LostPercent}
}

// startIperfServer starts an iperf3 server in host B and waits until it
// listens. Each subject gets its own server and log.
func (e *env) startIperfServer(subject string) (*netlab.Proc, error) {
	p, err := e.b.Start("iperf3-"+subject, "iperf3", "-s", "--forceflush")
	if err != nil {
		return nil, err
	}
	err = netlab.Poll(10*time.Second, 20*time.Millisecond, func() error {
		if p.Exited() {
			return fmt.Errorf("iperf3 server exited: %s", p.Output())
		}
		if !strings.Contains(p.Output(), "Server listening") {
			return fmt.Errorf("iperf3 server is not listening yet")
		}
		return nil
	})
	if err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
}
