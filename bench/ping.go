package main

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// measurePing pings dst from host A and summarises the round trips.
func (e *env) measurePing(ctx context.Context, dst netip.Addr) (*pingResult, error) {
	n, iv := e.opts.PingCount, e.opts.PingInterval
	ctx, cancel := context.WithTimeout(ctx, time.Duration(n)*iv+30*time.Second)
	defer cancel()
	out, err := e.run(ctx, e.a, "ping", "-n", "-c", fmt.Sprint(n), "-i", strconv.FormatFloat(iv.Seconds(), 'f', 3, 64),
		"-W", "2", dst.String())
	rtts := parsePingRTTs(out)
	if len(rtts) == 0 {
		if err == nil {
			err = fmt.Errorf("ping printed no round trip times")
		}
		return nil, err
	}
	// Some lost pings are a figure, not a failure; ping's exit status
	// says only that not all came back.
	return summarisePing(n, rtts), nil
}

// parsePingRTTs extracts "time=0.123 ms" from each reply line.
func parsePingRTTs(out string) []float64 {
	var rtts []float64
	for _, line := range strings.Split(out, "\n") {
		_, after, ok := strings.Cut(line, " time=")
		if !ok {
			continue
		}
		v, unit, _ := strings.Cut(after, " ")
		ms, err := strconv.ParseFloat(v, 64)
		if err != nil || unit != "ms" {
			continue
		}
		rtts = append(rtts, ms)
	}
	return rtts
}

func summarisePing(sent int, rtts []float64) *pingResult {
	s := slices.Clone(rtts)
	slices.Sort(s)
	median := s[len(s)/2]
	if len(s)%2 == 0 {
		median = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return &pingResult{Sent: sent, Received: len(s), MedianMs: median, MinMs: s[0], MaxMs: s[len(s)-1]}
}
