package main

import (
	"encoding/json"
	"flag"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Request is one request's fate, as `xfer loop` prints it.
type Request struct {
	Sent    int64  `json:"t"` // start time, Unix nanoseconds
	OK      bool   `json:"ok"`
	Backend string `json:"backend,omitempty"`
	Err     string `json:"err,omitempty"`
	Micros  int64  `json:"us"`
}

// loop fetches url every interval, each time with a fresh DNS lookup and a
// fresh connection, and prints one JSON line per request until signalled
// or -duration passes.
func loop(args []string) error {
	fs := flag.NewFlagSet("loop", flag.ExitOnError)
	url := fs.String("url", "", "URL to fetch")
	interval := fs.Duration("interval", 200*time.Millisecond, "time between request starts")
	dnsServer := fs.String("dns", "", "DNS server ip:port for names (default: system)")
	timeout := fs.Duration("timeout", time.Second, "per-request timeout")
	duration := fs.Duration("duration", 0, "stop after this long (0: until signalled)")
	fs.Parse(args)
	dialer := &net.Dialer{Timeout: *timeout}
	if *dnsServer != "" {
		dialer.Resolver = resolver(*dnsServer)
	}
	tr := &http.Transport{DialContext: dialer.DialContext, DisableKeepAlives: true}
	client := &http.Client{Transport: tr, Timeout: *timeout}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	var end <-chan time.Time
	if *duration > 0 {
		end = time.After(*duration)
	}
	out := json.NewEncoder(os.Stdout)
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	for {
		start := time.Now()
		name, err := fetch(client, *url)
		r := Request{Sent: start.UnixNano(), OK: err == nil, Backend: name, Micros: time.Since(start).Microseconds()}
		if err != nil {
			r.Err, r.Backend = err.Error(), ""
		}
		out.Encode(r)
		select {
		case <-tick.C:
		case <-stop:
			return nil
		case <-end:
			return nil
		}
	}
}
