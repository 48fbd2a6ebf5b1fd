package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"meshnet.dev/meshnet/e2e/netlab"
	"meshnet.dev/meshnet/node/api"
)

// getResult mirrors `xfer get` output.
type getResult struct {
	Counts   map[string]int `json:"counts"`
	Errors   int            `json:"errors"`
	Seconds  float64        `json:"seconds"`
	RPS      float64        `json:"rps"`
	LastFail string         `json:"last_fail"`
}

// httpGet runs `xfer get` on h and decodes its result.
func httpGet(t *testing.T, h *netlab.Host, args ...string) getResult {
	t.Helper()
	out, err := h.Run(bin.xfer, append([]string{"get"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	var r getResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("xfer get said %q: %v", out, err)
	}
	return r
}

// serveName starts an HTTP server on h's overlay address answering h's name.
func serveName(t *testing.T, h *netlab.Host, ip string) *netlab.Proc {
	t.Helper()
	p, err := h.Start("http", bin.xfer, "serve", "-listen", ip+":80", "-name", h.Name)
	if err != nil {
		t.Fatal(err)
	}
	err = netlab.Poll(10*time.Second, 20*time.Millisecond, func() error {
		if !strings.Contains(p.Output(), "listening") {
			return fmt.Errorf("server on %s not listening: %s", h.Name, p.Output())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// waitHealthy waits until m sees want healthy backends of service.
func waitHealthy(t *testing.T, m *netlab.Meshnet, service string, want int) api.Service {
	t.Helper()
	var svc api.Service
	err := netlab.Poll(60*time.Second, 100*time.Millisecond, func() error {
		out, err := m.CLI("service", "inspect", service, "--json")
		if err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(out), &svc); err != nil {
			return err
		}
		healthy := 0
		for _, b := range svc.Backends {
			if b.Healthy {
				healthy++
			}
		}
		if healthy != want {
			return fmt.Errorf("%s sees %d healthy backends of %s, want %d", m.Host.Name, healthy, service, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func cli(t *testing.T, m *netlab.Meshnet, args ...string) string {
	t.Helper()
	out, err := m.CLI(args...)
	if err != nil {
		t.Fatalf("meshnet %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// TestServiceLoadBalancing runs a service with backends on three hosts and
// a client on a fourth, through DNS and the VIP: spread, stickiness,
// failover on a crashed host and on a dead backend process, and dnsrr.
func TestServiceLoadBalancing(t *testing.T) {
	hosts, ms, ips := encryptedPair(t, 4, clusterOpts{})
	client, dnsAddr := hosts[0], ips[0]+":53"
	servers := map[string]*netlab.Proc{}
	for i := 1; i < 4; i++ {
		servers[hosts[i].Name] = serveName(t, hosts[i], ips[i])
	}
	cli(t, ms[0], "service", "create", "web", "--network", "red", "--port", "80/tcp")
	url := "http://web.meshnet.internal/"

	// Two backends first; long-lived connections must keep theirs while a
	// third comes and goes.
	for i := 1; i <= 2; i++ {
		cli(t, ms[i], "service", "add-backend", "web", ips[i]+":80")
	}
	waitHealthy(t, ms[0], "web", 2)
	sticky := make(chan getResult, 1)
	go func() {
		out, err := client.Run(bin.xfer, "get", "-url", url, "-dns", dnsAddr, "-keepalive", "-concurrency", "4", "-n", "40", "-interval", "150ms")
		var r getResult
		if err == nil {
			err = json.Unmarshal([]byte(out), &r)
		}
		if err != nil {
			t.Error(err)
		}
		sticky <- r
	}()
	cli(t, ms[3], "service", "add-backend", "web", ips[3]+":80")
	waitHealthy(t, ms[0], "web", 3)
	cli(t, ms[3], "service", "rm-backend", "web", ips[3]+":80")
	waitHealthy(t, ms[0], "web", 2)
	r := <-sticky
	if r.Errors != 0 {
		t.Fatalf("long-lived connections saw %d errors", r.Errors)
	}
	// Each of 4 connections made 40 requests; counts are multiples of 40
	// only if every connection kept its backend.
	for name, c := range r.Counts {
		if c%40 != 0 {
			t.Fatalf("a long-lived connection changed backend: counts %v (%s)", r.Counts, name)
		}
	}

	// 300 fresh connections spread over three backends.
	cli(t, ms[3], "service", "add-backend", "web", ips[3]+":80")
	waitHealthy(t, ms[0], "web", 3)
	r = httpGet(t, client, "-url", url, "-dns", dnsAddr, "-n", "300")
	if r.Errors != 0 || len(r.Counts) != 3 {
		t.Fatalf("300 requests: %+v", r)
	}
	for name, c := range r.Counts {
		if share := float64(c) / 300; share < 0.20 || share > 0.50 {
			t.Fatalf("backend %s got %.0f%% of requests (counts %v)", name, share*100, r.Counts)
		}
	}
	t.Logf("300 requests through DNS and the VIP: %v", r.Counts)

	// Requests per second (a new connection each) through the VIP and
	// directly to a backend, and through the name (a DNS lookup each).
	vip := waitHealthy(t, ms[0], "web", 3).VIP
	viaVIP := httpGet(t, client, "-url", "http://"+vip+"/", "-n", "250", "-concurrency", "4")
	direct := httpGet(t, client, "-url", "http://"+ips[1]+"/", "-n", "250", "-concurrency", "4")
	byName := httpGet(t, client, "-url", url, "-dns", dnsAddr, "-n", "250", "-concurrency", "4")
	if viaVIP.Errors+direct.Errors+byName.Errors != 0 {
		t.Fatalf("errors: vip %d direct %d name %d", viaVIP.Errors, direct.Errors, byName.Errors)
	}
	t.Logf("requests/s (new connection each): through the VIP %.0f, directly to a backend %.0f, by name (DNS + VIP) %.0f",
		viaVIP.RPS, direct.RPS, byName.RPS)

	// A backend host crashes: once the cluster declares it failed, every
	// request succeeds.
	killed := time.Now()
	during := make(chan getResult, 1)
	go func() {
		out, _ := client.Run(bin.xfer, "get", "-url", url, "-dns", dnsAddr, "-n", "150", "-interval", "100ms", "-timeout", "1s")
		var r getResult
		json.Unmarshal([]byte(out), &r)
		during <- r
	}()
	ms[3].Proc.Signal(syscall.SIGKILL)
	servers[hosts[3].Name].Kill()
	waitHealthy(t, ms[0], "web", 2)
	d := <-during
	if d.LastFail != "" {
		last, _ := time.Parse(time.RFC3339Nano, d.LastFail)
		t.Logf("backend host SIGKILLed: last failed request %s later (%d of 150 failed)", last.Sub(killed).Round(time.Millisecond), d.Errors)
	}
	r = httpGet(t, client, "-url", url, "-dns", dnsAddr, "-n", "100")
	if r.Errors != 0 || r.Counts[hosts[3].Name] != 0 {
		t.Fatalf("after the crash: %+v", r)
	}

	// A backend process dies on a live host: its node's health checks take
	// it out.
	servers[hosts[2].Name].Kill()
	waitHealthy(t, ms[0], "web", 1)
	r = httpGet(t, client, "-url", url, "-dns", dnsAddr, "-n", "50")
	if r.Errors != 0 || r.Counts[hosts[1].Name] != 50 {
		t.Fatalf("after the backend died: %+v", r)
	}

	// dnsrr: DNS answers every healthy backend.
	servers[hosts[2].Name] = serveName(t, hosts[2], ips[2])
	cli(t, ms[0], "service", "create", "db", "--network", "red", "--port", "80/tcp", "--mode", "dnsrr")
	for i := 1; i <= 2; i++ {
		cli(t, ms[i], "service", "add-backend", "db", ips[i]+":80")
	}
	waitHealthy(t, ms[0], "db", 2)
	out, err := client.Run(bin.xfer, "dig", "-dns", dnsAddr, "-name", "db.meshnet.internal")
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	json.Unmarshal([]byte(out), &addrs)
	want := []string{ips[1], ips[2]}
	slices.Sort(want)
	if !slices.Equal(addrs, want) {
		t.Fatalf("dnsrr answered %v, want %v", addrs, want)
	}
}
