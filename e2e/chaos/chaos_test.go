package chaos

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"meshnet.dev/meshnet/e2e/netlab"
)

// TestChaos runs a cluster of 8 nodes on one encrypted network, with the
// admin rotating keys every few seconds, through one fault window after
// another — underlay loss, a partition with changes on both sides, SIGKILL
// and restart (the admin node first), an eviction, a node with its clock
// far off — while a ping matrix, an HTTP loop through a service and a TCP
// stream are accounted. After each fault it asserts reconvergence within a
// bound; at the end, that no traffic was lost outside the fault windows.
// docs/RELIABILITY.md describes each check and records a full run.
func TestChaos(t *testing.T) {
	p := chaosParams()
	testenvTools(t, "unshare")
	c := newCluster(t, clusterConfig{hosts: p.hosts, rotation: p.rotation})
	n := p.hosts
	var (
		admin    = 0
		streamA  = 1
		streamB  = 2
		skewed   = 4
		evicted  = n - 2
		client   = n - 1
		backends = []int{2, 3, 5} // h3, h4, h6 run HTTP servers; h3 and h6 start as backends
		halfA    = c.hosts[:n/2]
		halfB    = c.hosts[n/2:]
		victims  = []int{3, 4, 5} // besides the admin: not a stream end, the client or the evicted node
	)
	start := time.Now()

	// The service: web, with backends on h3 and h6 (one on each side of the
	// partition to come).
	for _, b := range backends {
		serve(t, c.hosts[b], overlayIP(b))
	}
	c.cli(admin, "service", "create", "web", "--network", network, "--port", "80/tcp")
	for _, b := range []int{2, 5} {
		c.cli(b, "service", "add-backend", "web", overlayIP(b).String()+":80")
	}
	if _, err := c.converge(p.bound); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, c, client, "web", 2)
	t.Logf("cluster of %d up and converged in %s", n, time.Since(start).Round(100*time.Millisecond))

	tl := newTimeline(p.grace)
	tr := &traffic{c: c}
	tr.startPings()
	tr.startHTTP(client, "http://web.meshnet.internal/")
	tr.startStream(streamA, streamB, p.streamMbs)
	// Warm-up: every flow has answered once before accounting starts.
	warmUp(t, tr)
	tl.begin("baseline", false)
	time.Sleep(p.baseline) // a measuring window

	// fault runs one fault window: inject, hold for the window (or run the
	// body, which may take longer), remove, reconverge, recover.
	fault := func(name string, inject func(*phase), remove func(*phase)) {
		t.Helper()
		ph := tl.begin(name, true)
		inject(ph)
		remove(ph)
		ph.end = time.Now()
		tl.begin("recovery after "+name, false)
		d, last, err := c.convergeExplained(p.bound)
		if err != nil {
			tl.finish()
			t.Fatalf("no reconvergence %s after %s ended: %v\n%s", p.bound, name, err, tl.summary())
		}
		if d > slowReconvergence {
			ph.notes = append(ph.notes, "last difference: "+last)
		}
		tl.recovered(ph, d)
		t.Logf("%s: reconverged %s after the fault ended", name, d.Round(10*time.Millisecond))
		time.Sleep(p.recovery) // a measuring window of quiet traffic
	}

	// 1. Random loss on the underlay.
	for _, pct := range p.losses {
		fault(fmt.Sprintf("%d%% underlay loss", pct), func(ph *phase) {
			if err := c.lab.SetUnderlayLoss(pct); err != nil {
				t.Fatal(err)
			}
			time.Sleep(p.fault)
		}, func(ph *phase) {
			dropped, _ := c.lab.UnderlayLossDropped()
			if err := c.lab.SetUnderlayLoss(0); err != nil {
				t.Fatal(err)
			}
			ph.notes = append(ph.notes, fmt.Sprintf("bridge dropped %d frames", dropped))
		})
	}

	// 2. A partition into two halves, each changing endpoints and services.
	fault("partition in halves", func(ph *phase) {
		heal, err := netlab.Partition(halfA, halfB)
		if err != nil {
			t.Fatal(err)
		}
		c.heal = heal
		split := time.Now()
		waitSplit(t, c, halfA, halfB, p.bound)
		ph.notes = append(ph.notes, fmt.Sprintf("both halves saw the split after %s", time.Since(split).Round(100*time.Millisecond)))
		epA, epB := netip.MustParseAddr("10.10.0.201"), netip.MustParseAddr("10.10.0.205")
		addEndpoint(t, c.hosts[0], epA, overlayIP(1))
		addEndpoint(t, c.hosts[n/2], epB, overlayIP(n/2+1))
		c.cli(3, "service", "add-backend", "web", overlayIP(3).String()+":80")
		c.cli(5, "service", "rm-backend", "web", overlayIP(5).String()+":80")
		ph.notes = append(ph.notes, fmt.Sprintf("during the split: %s added endpoint %s, %s added %s; h4 added a backend, h6 removed its own",
			c.hosts[0].Name, epA, c.hosts[n/2].Name, epB))
		time.Sleep(time.Until(ph.start.Add(p.fault)))
	}, func(ph *phase) {
		if err := c.heal(); err != nil {
			t.Fatal(err)
		}
		c.heal = nil
	})
	ph := tl.phases[len(tl.phases)-2]
	ph.notes = append(ph.notes, "after healing: "+c.describe(admin))

	// 3. SIGKILL and restart of random nodes (round 0 is the admin's).
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	killRound := func(k int) {
		victim := admin
		if k > 0 {
			victim = victims[rng.IntN(len(victims))]
		}
		name := c.hosts[victim].Name
		if victim == admin {
			name += " (admin, seed)"
		}
		var epochBefore uint64
		fault(fmt.Sprintf("SIGKILL %s", name), func(ph *phase) {
			if st, err := c.ms[admin].Status(); err == nil {
				epochBefore = st.Keys.Epoch
			}
			c.kill(victim)
			time.Sleep(p.killDown)
		}, func(ph *phase) {
			c.restart(victim, bin.meshnet)
		})
		if victim == admin {
			// The restarted admin must go on rotating and issuing tokens.
			err := netlab.Poll(p.bound, 200*time.Millisecond, func() error {
				st, err := c.ms[admin].Status()
				if err != nil {
					return err
				}
				if st.Keys.Epoch <= epochBefore+1 {
					return fmt.Errorf("admin epoch %d, was %d before its restart", st.Keys.Epoch, epochBefore)
				}
				return nil
			})
			if err != nil {
				t.Errorf("the restarted admin does not rotate keys: %v", err)
			}
			if out, err := c.ms[admin].CLI("token", "--ttl", "1m"); err != nil {
				t.Errorf("the restarted admin issues no token: %v\n%s", err, out)
			}
		}
	}

	// 4. An eviction in the middle.
	fault("evict "+c.hosts[evicted].Name, func(ph *phase) {
		tl.retire(c.hosts[evicted].Name)
		c.cli(admin, "evict", c.hosts[evicted].Name)
		c.gone[evicted] = true
	}, func(ph *phase) {})

	for k := 1; k < p.kills; k++ {
		killRound(k)
	}

	// 5. A node whose clock is far off.
	for _, off := range p.skews {
		name := fmt.Sprintf("%s clock %+dd", c.hosts[skewed].Name, off/86400)
		fault(name, func(ph *phase) {
			c.kill(skewed)
			o, ns := fmt.Sprint(off), fmt.Sprint(timensOffset(off))
			c.restart(skewed, bin.skewed, "env", clockOffsetEnv+"="+o,
				"unshare", "--time", "--monotonic", ns, "--boottime", ns, "--fork", "--kill-child")
			d, err := c.converge(p.bound)
			if err != nil {
				t.Errorf("the cluster does not converge with %s's clock %+d s off: %v", c.hosts[skewed].Name, off, err)
				ph.notes = append(ph.notes, "NOT converged while skewed: "+err.Error())
			} else {
				ph.notes = append(ph.notes, fmt.Sprintf("converged with the skewed node %s after its restart", d.Round(10*time.Millisecond)))
			}
			time.Sleep(time.Until(ph.start.Add(p.fault)))
		}, func(ph *phase) {
			c.kill(skewed)
			c.restart(skewed, bin.meshnet)
		})
	}
	// 6. SIGKILL and restart of the admin node, the seed every other node
	// joined through, with rotations falling due while it is down.
	killRound(0)
	tl.finish()

	samples, sr := tr.stop()
	acc := tl.account(samples, sr, time.Second)
	var rep strings.Builder
	fmt.Fprintf(&rep, "chaos run: %d hosts, key rotation every %s, fault windows %s, recovery %s, random kill rounds %d (down %s), admin kill, reconvergence bound %s, grace %s, ping every %s to %d peers per host, HTTP every 200ms, stream %d Mbit/s; %s in all\n",
		p.hosts, p.rotation, p.fault, p.recovery, p.kills-1, p.killDown, p.bound, p.grace, pingInterval, len(pingOffsets), p.streamMbs, time.Since(start).Round(time.Second))
	tl.report(&rep, acc, sr)
	t.Log("\n" + rep.String())
	if path := os.Getenv("CHAOS_REPORT"); path != "" {
		os.WriteFile(path, []byte(rep.String()), 0o644)
	}
	checkNoCrash(t, c)
	if len(acc.outside) > 0 {
		t.Errorf("%d samples lost outside fault windows (see report)", len(acc.outside))
	}
	if sr.sent.SHA256 == "" || sr.sent.SHA256 != sr.got.SHA256 || sr.sent.Bytes != sr.got.Bytes {
		t.Errorf("the TCP stream did not arrive intact: sent %+v, received %+v", sr.sent, sr.got)
	}
	for _, st := range acc.stalls {
		if !st.excused {
			t.Errorf("the TCP stream stalled outside fault windows for %s", st.to.Sub(st.from).Round(10*time.Millisecond))
		}
	}
}

// warmUp waits until every ping target and the HTTP loop have answered.
func warmUp(t *testing.T, tr *traffic) {
	t.Helper()
	err := netlab.Poll(60*time.Second, 200*time.Millisecond, func() error {
		for i, p := range tr.pingers {
			out := p.Output()
			for _, j := range tr.targets[i] {
				if !strings.Contains(out, `"dst":"`+overlayIP(j).String()+`","seq":`) || !strings.Contains(out, `"ok":true`) {
					return fmt.Errorf("%s has no answer from %s yet", tr.c.hosts[i].Name, tr.c.hosts[j].Name)
				}
			}
		}
		if !strings.Contains(tr.loop.Output(), `"ok":true`) {
			return fmt.Errorf("no HTTP request through the service succeeded yet")
		}
		if tr.recv != nil && !strings.Contains(tr.recv.Output(), `"bytes":`) {
			return fmt.Errorf("the stream has not started")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitSplit waits until each half sees only itself alive.
func waitSplit(t *testing.T, c *cluster, a, b []*netlab.Host, timeout time.Duration) {
	t.Helper()
	names := func(hs []*netlab.Host) []string {
		var out []string
		for _, h := range hs {
			out = append(out, h.Name)
		}
		slices.Sort(out)
		return out
	}
	err := netlab.Poll(timeout, 250*time.Millisecond, func() error {
		for _, side := range [][]*netlab.Host{a, b} {
			want := names(side)
			for _, h := range side {
				i := slices.Index(c.hosts, h)
				if c.gone[i] || c.down[i] {
					continue
				}
				v, err := c.viewOf(i)
				if err != nil {
					return err
				}
				if !slices.Equal(v.alive, want) {
					return fmt.Errorf("%s sees alive %v, want its half %v", h.Name, v.alive, want)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// addEndpoint gives host an extra address on the network's device and
// sends from it, so its node learns and publishes the new endpoint.
func addEndpoint(t *testing.T, h *netlab.Host, ip, via netip.Addr) {
	t.Helper()
	if _, err := h.Run("ip", "addr", "add", ip.String()+"/24", "dev", device); err != nil {
		t.Fatal(err)
	}
	// The ping's source teaches the node the endpoint; whether it gets an
	// answer does not matter.
	h.Run("ping", "-c", "1", "-W", "1", "-I", ip.String(), via.String())
}

// serve starts an HTTP server on h's overlay address answering h's name.
func serve(t *testing.T, h *netlab.Host, ip netip.Addr) *netlab.Proc {
	t.Helper()
	p, err := h.Start("http", bin.xfer, "serve", "-listen", ip.String()+":80", "-name", h.Name)
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

// waitHealthy waits until node i sees want healthy backends of service.
func waitHealthy(t *testing.T, c *cluster, i int, service string, want int) {
	t.Helper()
	err := netlab.Poll(60*time.Second, 100*time.Millisecond, func() error {
		svcs, err := c.services(i)
		if err != nil {
			return err
		}
		for _, s := range svcs {
			if s.Name != service {
				continue
			}
			healthy := 0
			for _, b := range s.Backends {
				if b.Healthy {
					healthy++
				}
			}
			if healthy != want {
				return fmt.Errorf("%s sees %d healthy backends of %s, want %d", c.hosts[i].Name, healthy, service, want)
			}
			return nil
		}
		return fmt.Errorf("%s does not know service %s", c.hosts[i].Name, service)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkNoCrash fails the test if a daemon that should run has exited or
// any daemon's log shows a Go panic or fatal error.
func checkNoCrash(t *testing.T, c *cluster) {
	t.Helper()
	for _, i := range c.live() {
		if c.ms[i].Proc.Exited() {
			t.Errorf("%s's daemon exited: %s", c.hosts[i].Name, tail([]byte(c.ms[i].Proc.Output()), 2048))
		}
	}
	for _, h := range c.hosts {
		b, _ := os.ReadFile(filepath.Join(h.Dir, "meshnet.log"))
		for _, bad := range []string{"panic:", "fatal error:", "DATA RACE"} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s's log shows %q", h.Name, bad)
			}
		}
	}
}
