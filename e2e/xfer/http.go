package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// serve answers every HTTP request with the server's name.
func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	listen := fs.String("listen", ":80", "address to listen on")
	name := fs.String("name", "", "name to answer with")
	fs.Parse(args)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Println("listening")
	return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, *name)
	}))
}

// GetResult is what `xfer get` prints.
type GetResult struct {
	Counts   map[string]int `json:"counts"`
	Errors   int            `json:"errors"`
	Seconds  float64        `json:"seconds"`
	RPS      float64        `json:"rps"`
	LastFail string         `json:"last_fail,omitempty"` // RFC 3339 time of the last failed request
}

// get sends n requests and counts which backend answered. Without
// -keepalive every request opens a new connection (a new flow); with it,
// each worker keeps one connection.
func get(args []string) error {
	fs := flag.NewFlagSet("get", flag.ExitOnError)
	url := fs.String("url", "", "URL to fetch")
	n := fs.Int("n", 100, "requests per worker")
	conc := fs.Int("concurrency", 1, "workers")
	keep := fs.Bool("keepalive", false, "reuse one connection per worker")
	interval := fs.Duration("interval", 0, "pause between a worker's requests")
	dnsServer := fs.String("dns", "", "DNS server ip:port for names (default: system)")
	timeout := fs.Duration("timeout", 2*time.Second, "per-request timeout")
	socks := fs.String("socks5", "", "SOCKS5 proxy ip:port (names resolved by the proxy)")
	connect := fs.String("connect-proxy", "", "HTTP CONNECT proxy ip:port")
	fs.Parse(args)
	dialer := &net.Dialer{Timeout: *timeout}
	if *dnsServer != "" {
		dialer.Resolver = resolver(*dnsServer)
	}
	dial := dialer.DialContext
	var proxy func(*http.Request) (*neturl.URL, error)
	switch {
	case *socks != "":
		proxy = http.ProxyURL(&neturl.URL{Scheme: "socks5h", Host: *socks})
	case *connect != "":
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return connectVia(ctx, dialer, *connect, addr)
		}
	}
	res := GetResult{Counts: map[string]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{DialContext: dial, Proxy: proxy, DisableKeepAlives: !*keep, MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: *timeout}
			for i := range *n {
				if i > 0 && *interval > 0 {
					time.Sleep(*interval)
				}
				name, err := fetch(client, *url)
				mu.Lock()
				if err != nil {
					res.Errors++
					res.LastFail = time.Now().UTC().Format(time.RFC3339Nano)
				} else {
					res.Counts[name]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	res.RPS = float64(*n**conc-res.Errors) / res.Seconds
	return json.NewEncoder(os.Stdout).Encode(res)
}

func fetch(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256))
	return strings.TrimSpace(string(b)), err
}

// connectVia opens a tunnel to addr through an HTTP CONNECT proxy.
func connectVia(ctx context.Context, d *net.Dialer, proxy, addr string) (net.Conn, error) {
	c, err := d.DialContext(ctx, "tcp", proxy)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", addr, addr)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		c.Close()
		return nil, fmt.Errorf("CONNECT %s: %s", addr, resp.Status)
	}
	if br.Buffered() > 0 {
		c.Close()
		return nil, fmt.Errorf("CONNECT %s: proxy sent data before the tunnel", addr)
	}
	return c, nil
}

// dig resolves a name through a DNS server and prints the addresses.
func dig(args []string) error {
	fs := flag.NewFlagSet("dig", flag.ExitOnError)
	server := fs.String("dns", "", "DNS server ip:port")
	name := fs.String("name", "", "name to resolve")
	fs.Parse(args)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := resolver(*server).LookupHost(ctx, *name)
	if err != nil {
		return err
	}
	sort.Strings(addrs)
	return json.NewEncoder(os.Stdout).Encode(addrs)
}

// resolver sends every query to server.
func resolver(server string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, server)
	}}
}

// fetch prints the body of one GET.
func fetch1(args []string) error {
	fs := flag.NewFlagSet("fetch", flag.ExitOnError)
	url := fs.String("url", "", "URL to fetch")
	fs.Parse(args)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(*url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(os.Stdout, io.LimitReader(resp.Body, 16<<20))
	return err
}
