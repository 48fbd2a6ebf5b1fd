package chaos

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"meshnet.dev/meshnet/e2e/netlab"
)

// soakParams size a soak. SOAK_DURATION (make soak DURATION=…) sets the
// length; without it the CI soak runs for a minute on fewer hosts.
type soakParams struct {
	duration time.Duration
	hosts    int
	sample   time.Duration // resource sampling period
	churn    time.Duration // one churn action per period
	restart  time.Duration // the restarting node's period
	// Tolerances: the last quarter's peak may exceed the first quarter's
	// peak (after warm-up) by at most this much.
	rssFactor float64 // times the first quarter's peak RSS …
	rssSlack  int64   // … plus this many KiB
	threads   int
	fds       int
	// streamMbps paces a TCP stream between two sampled nodes for the
	// whole run, so their memory is measured under load.
	streamMbps int
}

func soakParamsFromEnv(t *testing.T) soakParams {
	p := soakParams{duration: time.Minute, hosts: 4, sample: time.Second, churn: 2 * time.Second, restart: 15 * time.Second,
		rssFactor: 1.25, rssSlack: 8 << 10, threads: 4, fds: 8, streamMbps: 100}
	if s := os.Getenv("SOAK_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("SOAK_DURATION=%q: %v", s, err)
		}
		p.duration, p.hosts, p.sample, p.churn, p.restart = d, 8, 5*time.Second, 3*time.Second, time.Minute
		p.streamMbps = 300
	}
	return p
}

// procSample is one resource sample of one daemon.
type procSample struct {
	at time.Time
	netlab.ProcStats
	entries int // gossip records of network red, tombstones included
}

// TestSoak runs traffic and churn — endpoints added and removed, services
// created, changed and removed, key rotations on a short schedule and on
// demand, one node restarted periodically — and samples every other
// daemon's RSS, threads and descriptors: none may keep growing.
func TestSoak(t *testing.T) {
	p := soakParamsFromEnv(t)
	// Rotations every 3 s, and on demand: a restarted node misses several.
	rotation := 3 * time.Second
	c := newCluster(t, clusterConfig{hosts: p.hosts, rotation: rotation})
	n := p.hosts
	restarting := n - 1 // its own numbers restart with it; the others are checked
	for i := range c.hosts {
		serve(t, c.hosts[i], overlayIP(i))
	}
	c.cli(0, "service", "create", "web", "--network", network, "--port", "80/tcp")
	for i := 1; i < n; i++ {
		c.cli(i, "service", "add-backend", "web", overlayIP(i).String()+":80")
	}
	waitHealthy(t, c, 0, "web", n-1)
	tr := &traffic{c: c}
	tr.startPings()
	tr.startHTTP(0, "http://web.meshnet.internal/")
	tr.startStream(0, 1, p.streamMbps)
	warmUpPings(t, tr)

	samples := map[int][]procSample{}
	sampleAll := func() {
		for _, i := range c.live() {
			if i == restarting {
				continue
			}
			pid, err := c.daemonPID(i)
			if err != nil {
				t.Errorf("%s: %v", c.hosts[i].Name, err)
				continue
			}
			ps, err := netlab.ReadProcStats(pid)
			if err != nil {
				t.Errorf("%s: %v", c.hosts[i].Name, err)
				continue
			}
			s := procSample{at: time.Now(), ProcStats: ps}
			if st, err := c.ms[i].Status(); err == nil {
				s.entries = st.Gossip.Entries[network]
			}
			samples[i] = append(samples[i], s)
		}
	}

	start := time.Now()
	end := start.Add(p.duration)
	nextSample, nextChurn, nextRestart := start, start.Add(p.churn), start.Add(p.restart)
	var actions []string
	step := 0
	extra := map[int][]string{} // extra endpoint addresses per host
	for time.Now().Before(end) {
		now := time.Now()
		switch {
		case !now.Before(nextSample):
			sampleAll()
			nextSample = nextSample.Add(p.sample)
		case !now.Before(nextRestart):
			// Alternately a crash and a clean stop.
			if step%2 == 0 {
				c.kill(restarting)
			} else {
				c.ms[restarting].Proc.Signal(syscall.SIGTERM)
				if err := c.ms[restarting].Proc.Wait(20 * time.Second); err != nil {
					t.Fatalf("%s did not stop on SIGTERM: %v", c.hosts[restarting].Name, err)
				}
				c.down[restarting] = true
			}
			c.restart(restarting, bin.meshnet)
			delete(extra, restarting) // its device, and the addresses on it, went with it
			actions = append(actions, "restart")
			nextRestart = nextRestart.Add(p.restart)
		case !now.Before(nextChurn):
			actions = append(actions, churn(t, c, step, extra))
			step++
			nextChurn = nextChurn.Add(p.churn)
		default:
			time.Sleep(50 * time.Millisecond) // idle until the next scheduled action
		}
	}
	sampleAll()
	d, err := c.converge(60 * time.Second)
	if err != nil {
		t.Fatalf("no convergence after the soak: %v", err)
	}
	pings, sr := tr.stop()
	var sent, lost int
	for _, s := range pings {
		if s.flow == "ping" {
			sent++
			if !s.ok {
				lost++
			}
		}
	}
	var rep strings.Builder
	tally := map[string]int{}
	for _, a := range actions {
		tally[a]++
	}
	fmt.Fprintf(&rep, "soak: %s on %d hosts; churn every %s %v; reconverged %s after the last action; pings %d sent, %d lost (restarts included); TCP stream %s→%s %.0f MB at %.0f Mbit/s\n",
		p.duration, n, p.churn, tally, d.Round(10*time.Millisecond), sent, lost,
		c.hosts[0].Name, c.hosts[1].Name, float64(sr.got.Bytes)/1e6, sr.got.Mbps)
	if sr.sent.SHA256 == "" || sr.sent.SHA256 != sr.got.SHA256 || sr.sent.Bytes != sr.got.Bytes {
		t.Errorf("the TCP stream did not arrive intact: sent %+v, received %+v", sr.sent, sr.got)
	}
	fmt.Fprintf(&rep, "%-5s %-26s %-26s %-20s %-14s %-14s %s\n", "node", "RSS first→last quarter", "private (RssAnon)", "peak RSS (VmHWM)", "threads", "fds", "gossip records")
	for _, i := range slices.Sorted(maps.Keys(samples)) {
		ss := samples[i]
		verdict := flat(ss, p)
		q := len(ss) / 4
		first, last := peak(ss[q:2*q]), peak(ss[len(ss)-q:])
		fmt.Fprintf(&rep, "%-5s %-26s %-26s %-20s %-14s %-14s %d→%d %s\n", c.hosts[i].Name,
			fmt.Sprintf("%.1f→%.1f MiB", float64(first.RSSKiB)/1024, float64(last.RSSKiB)/1024),
			fmt.Sprintf("%.1f→%.1f MiB", float64(first.AnonKiB)/1024, float64(last.AnonKiB)/1024),
			fmt.Sprintf("%.1f MiB", float64(ss[len(ss)-1].HWMKiB)/1024),
			fmt.Sprintf("%d→%d", first.Threads, last.Threads), fmt.Sprintf("%d→%d", first.FDs, last.FDs),
			ss[q].entries, ss[len(ss)-1].entries, verdict)
		if verdict != "flat" {
			t.Errorf("%s: %s", c.hosts[i].Name, verdict)
		}
	}
	t.Log("\n" + rep.String())
	if path := os.Getenv("SOAK_REPORT"); path != "" {
		os.WriteFile(path, []byte(rep.String()), 0o644)
		writeSeries(path+".csv", c, samples, start)
	}
	checkNoCrash(t, c)
}

// writeSeries writes every sample as CSV, to see how a node's memory
// moved, not just where it ended.
func writeSeries(path string, c *cluster, samples map[int][]procSample, start time.Time) {
	var b strings.Builder
	b.WriteString("seconds,node,rss_kib,anon_kib,file_kib,threads,fds\n")
	for _, i := range slices.Sorted(maps.Keys(samples)) {
		for _, s := range samples[i] {
			fmt.Fprintf(&b, "%.0f,%s,%d,%d,%d,%d,%d\n", s.at.Sub(start).Seconds(), c.hosts[i].Name, s.RSSKiB, s.AnonKiB, s.FileKiB, s.Threads, s.FDs)
		}
	}
	os.WriteFile(path, []byte(b.String()), 0o644)
}

// churn performs the step-th churn action and names it.
func churn(t *testing.T, c *cluster, step int, extra map[int][]string) string {
	t.Helper()
	live := c.live()
	h := live[step%len(live)]
	switch step % 6 {
	case 0, 3: // an endpoint appears
		ip := fmt.Sprintf("10.10.0.%d", 100+step%120)
		if _, err := c.hosts[h].Run("ip", "addr", "add", ip+"/24", "dev", device); err == nil {
			c.hosts[h].Run("ping", "-c", "1", "-W", "1", "-I", ip, overlayIP(live[(step+1)%len(live)]).String())
			extra[h] = append(extra[h], ip)
		}
		return "endpoint-add"
	case 1: // an endpoint goes away
		for k, ips := range extra {
			if len(ips) > 0 && !c.down[k] {
				c.hosts[k].Run("ip", "addr", "del", ips[0]+"/24", "dev", device)
				extra[k] = ips[1:]
				break
			}
		}
		return "endpoint-del"
	case 2: // a service is created and given a backend
		name := fmt.Sprintf("svc%d", step%4)
		c.ms[0].CLI("service", "rm", name)
		c.cli(0, "service", "create", name, "--network", network, "--port", "80/tcp")
		c.cli(h, "service", "add-backend", name, overlayIP(h).String()+":80")
		return "service-create"
	case 4: // a backend of web leaves and comes back
		if h != 0 {
			c.cli(h, "service", "rm-backend", "web", overlayIP(h).String()+":80")
			c.cli(h, "service", "add-backend", "web", overlayIP(h).String()+":80")
		}
		return "backend-flap"
	default: // an on-demand key rotation
		c.cli(0, "keys", "rotate")
		return "keys-rotate"
	}
}

// flat judges whether a series stayed flat: the last quarter's peaks
// within the tolerances of the first quarter's after warm-up (the first
// quarter is warm-up and not judged).
func flat(ss []procSample, p soakParams) string {
	if len(ss) < 8 {
		return "too few samples"
	}
	q := len(ss) / 4
	first, last := peak(ss[q:2*q]), peak(ss[len(ss)-q:])
	var bad []string
	if limit := int64(float64(first.RSSKiB)*p.rssFactor) + p.rssSlack; last.RSSKiB > limit {
		bad = append(bad, fmt.Sprintf("RSS grew from %d to %d KiB (limit %d)", first.RSSKiB, last.RSSKiB, limit))
	}
	if last.Threads > first.Threads+p.threads {
		bad = append(bad, fmt.Sprintf("threads grew from %d to %d", first.Threads, last.Threads))
	}
	if last.FDs > first.FDs+p.fds {
		bad = append(bad, fmt.Sprintf("descriptors grew from %d to %d", first.FDs, last.FDs))
	}
	if len(bad) > 0 {
		return strings.Join(bad, "; ")
	}
	return "flat"
}

// peak is the largest of each figure over ss.
func peak(ss []procSample) netlab.ProcStats {
	var m netlab.ProcStats
	for _, s := range ss {
		m.RSSKiB = max(m.RSSKiB, s.RSSKiB)
		m.AnonKiB = max(m.AnonKiB, s.AnonKiB)
		m.Threads = max(m.Threads, s.Threads)
		m.FDs = max(m.FDs, s.FDs)
	}
	return m
}

// warmUpPings waits until every ping target has answered.
func warmUpPings(t *testing.T, tr *traffic) {
	t.Helper()
	err := netlab.Poll(60*time.Second, 200*time.Millisecond, func() error {
		for i, p := range tr.pingers {
			out := p.Output()
			for _, j := range tr.targets[i] {
				if !strings.Contains(out, `"dst":"`+overlayIP(j).String()+`","seq":`) {
					return fmt.Errorf("%s has no answer from %s yet", tr.c.hosts[i].Name, tr.c.hosts[j].Name)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
