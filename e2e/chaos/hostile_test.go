package chaos

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"meshnet.dev/meshnet/e2e/netlab"
)

// floodResult mirrors `xfer flood` output.
type floodResult struct {
	Kind    string         `json:"kind"`
	Sent    uint64         `json:"sent"`
	Bytes   uint64         `json:"bytes"`
	Seconds float64        `json:"seconds"`
	Replies map[string]int `json:"replies"`
	Errors  uint64         `json:"errors"`
}

// hostileCase is one flood at the target's front door.
type hostileCase struct {
	name string
	args []string // xfer flood arguments, -to added
	port int
	// memoryBound is how far the target's RSS may rise above its level
	// before the flood, in KiB.
	memoryBound int64
}

// TestHostileInput floods one node of a four-node encrypted cluster from
// an attacker namespace on the same bridge — malformed VXLAN, junk and
// oversized gossip over UDP and TCP, WireGuard garbage and handshake
// initiations — each bounded in rate and time, while a ping matrix and an
// HTTP loop run. The node must keep serving its peers, keep its memory
// bounded, count what it drops, and answer a handshake flood with cookies.
func TestHostileInput(t *testing.T) {
	testenvTools(t, "tcpdump")
	c := newCluster(t, clusterConfig{hosts: 4, rotation: 5 * time.Second})
	evil, err := c.lab.AddHost("evil")
	if err != nil {
		t.Fatal(err)
	}
	const target = 1 // h2: a ping target and a backend
	for _, b := range []int{1, 2} {
		serve(t, c.hosts[b], overlayIP(b))
	}
	c.cli(0, "service", "create", "web", "--network", network, "--port", "80/tcp")
	for _, b := range []int{1, 2} {
		c.cli(b, "service", "add-backend", "web", overlayIP(b).String()+":80")
	}
	waitHealthy(t, c, 0, "web", 2)
	st, err := c.ms[target].Status()
	if err != nil {
		t.Fatal(err)
	}
	pub := st.Keys.PublicKey
	addr := c.hosts[target].Addr.String()
	dur := 5 * time.Second
	if os.Getenv("CHAOS_FULL") != "" {
		dur = 20 * time.Second
	}
	d := dur.String()
	cases := []hostileCase{
		{name: "malformed VXLAN", port: 4789, args: []string{"-kind", "vxlan", "-rate", "20000", "-duration", d}, memoryBound: 16 << 10},
		{name: "junk gossip (UDP)", port: 7946, args: []string{"-kind", "gossip-udp", "-rate", "20000", "-duration", d}, memoryBound: 16 << 10},
		{name: "WireGuard garbage", port: 51820, args: []string{"-kind", "wg-junk", "-rate", "20000", "-duration", d}, memoryBound: 16 << 10},
		// wireguard-go queues up to QueueHandshakeSize (4096) handshake
		// messages in 64 KiB buffers before it sheds load with cookies:
		// 256 MiB by construction, the bound a flood may reach.
		{name: "WireGuard initiations", port: 51820, args: []string{"-kind", "wg-init", "-pubkey", pub, "-rate", "0", "-duration", d}, memoryBound: 288 << 10},
		{name: "oversized gossip streams (TCP)", port: 7946, args: []string{"-kind", "gossip-tcp", "-conns", "8", "-duration", d}, memoryBound: 64 << 10},
	}

	tr := &traffic{c: c}
	tr.startPings()
	tr.startHTTP(0, "http://web.meshnet.internal/")
	warmUp(t, tr)
	tl := newTimeline(2 * time.Second)
	tl.begin("baseline", false)
	time.Sleep(dur) // a measuring window
	type outcome struct {
		hostileCase
		res                     floodResult
		rssBefore, rssPeak      int64
		dropsBefore, dropsAfter map[string]uint64
		cookies                 int
		logBytes                int64
		phase                   *phase
	}
	var outcomes []*outcome
	logPath := filepath.Join(c.hosts[target].Dir, "meshnet.log")
	for _, hc := range cases {
		o := &outcome{hostileCase: hc}
		pid, err := c.daemonPID(target)
		if err != nil {
			t.Fatal(err)
		}
		before, _ := netlab.ReadProcStats(pid)
		o.rssBefore = before.RSSKiB
		o.dropsBefore = dropCounters(c, target)
		logBefore := fileSize(logPath)
		// A capture of what the target sends back to the attacker.
		capture, err := evil.StartCapture(strings.ReplaceAll(hc.name, " ", "-"), "eth0", "src", addr, "and", "udp", "src", "port", fmt.Sprint(hc.port))
		if err != nil {
			t.Fatal(err)
		}
		// Sample the target's RSS through the flood.
		stopSampling := make(chan struct{})
		peak := make(chan int64, 1)
		go func() {
			m := o.rssBefore
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-tick.C:
					if s, err := netlab.ReadProcStats(pid); err == nil {
						m = max(m, s.RSSKiB)
					}
				case <-stopSampling:
					peak <- m
					return
				}
			}
		}()
		o.phase = tl.begin(hc.name, true)
		out, err := evil.Run(bin.xfer, append([]string{"flood", "-to", fmt.Sprintf("%s:%d", addr, hc.port)}, hc.args...)...)
		o.phase.end = time.Now()
		tl.begin("after "+hc.name, false)
		close(stopSampling)
		o.rssPeak = <-peak
		if err != nil {
			t.Fatalf("%s: %v", hc.name, err)
		}
		if err := json.Unmarshal([]byte(out), &o.res); err != nil {
			t.Fatalf("%s: flood said %q: %v", hc.name, out, err)
		}
		data, err := capture.Stop()
		if err != nil {
			t.Fatal(err)
		}
		frames, err := netlab.ReadPcap(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range frames {
			if _, _, payload, ok := netlab.UDPPorts(f); ok && len(payload) > 0 && payload[0] == 3 {
				o.cookies++ // a WireGuard cookie reply
			}
		}
		o.dropsAfter = dropCounters(c, target)
		o.logBytes = fileSize(logPath) - logBefore
		dc, err := c.converge(60 * time.Second)
		if err != nil {
			t.Fatalf("after %s: %v", hc.name, err)
		}
		tl.recovered(o.phase, dc)
		outcomes = append(outcomes, o)
		time.Sleep(2 * time.Second) // a quiet measuring window between floods
	}
	tl.finish()
	samples, _ := tr.stop()
	acc := tl.account(samples, nil, time.Second)

	var rep strings.Builder
	fmt.Fprintf(&rep, "hostile input at h2 from an attacker on the bridge, %s per flood; the cluster's own traffic per window:\n", dur)
	tl.report(&rep, acc, nil)
	fmt.Fprintf(&rep, "%-32s %12s %10s %16s %22s %12s %s\n", "flood", "sent", "pkts/s", "RSS before→peak", "replies to attacker", "log growth", "drops counted by the target")
	for _, o := range outcomes {
		fmt.Fprintf(&rep, "%-32s %12d %10.0f %16s %22s %12s %s\n", o.name, o.res.Sent, float64(o.res.Sent)/o.res.Seconds,
			fmt.Sprintf("%.0f→%.0f MiB", float64(o.rssBefore)/1024, float64(o.rssPeak)/1024),
			fmt.Sprintf("%v", o.res.Replies), fmt.Sprintf("%d B", o.logBytes), diffCounters(o.dropsBefore, o.dropsAfter))
		if o.cookies > 0 {
			fmt.Fprintf(&rep, "    tcpdump on the attacker: %d WireGuard cookie replies (type 3) from the target\n", o.cookies)
		}
	}
	t.Log("\n" + rep.String())
	if path := os.Getenv("HOSTILE_REPORT"); path != "" {
		os.WriteFile(path, []byte(rep.String()), 0o644)
	}
	checkNoCrash(t, c)

	// Verdicts, one subtest per flood so a known bug fails only its own.
	for _, o := range outcomes {
		t.Run(strings.ReplaceAll(o.name, " ", "_"), func(t *testing.T) {
			var errs []string
			if grew := o.rssPeak - o.rssBefore; grew > o.memoryBound {
				errs = append(errs, fmt.Sprintf("RSS rose %d MiB (bound %d MiB)", grew>>10, o.memoryBound>>10))
			}
			if c := acc.perPhase[o.phase]; c != nil {
				for flow, n := range c {
					if n.sent > 0 && float64(n.lost)/float64(n.sent) > 0.02 {
						errs = append(errs, fmt.Sprintf("%s lost %d of %d during the flood", flow, n.lost, n.sent))
					}
				}
			}
			if o.logBytes > 256<<10 {
				errs = append(errs, fmt.Sprintf("the log grew by %d KiB during the flood", o.logBytes>>10))
			}
			switch o.res.Kind {
			case "wg-init":
				if o.res.Replies["type-3"] == 0 {
					errs = append(errs, "no cookie reply to a handshake flood")
				}
			case "vxlan":
				if sumDiff(o.dropsBefore, o.dropsAfter) == 0 {
					errs = append(errs, "no drop counted")
				}
			}
			if len(errs) == 0 {
				return
			}
			msg := strings.Join(errs, "; ")
			t.Error(msg)
		})
	}
	for _, s := range acc.outside {
		t.Errorf("lost outside the flood windows: %s %s→%s at %s", s.flow, s.src, s.dst, s.t.Format(time.StampMilli))
	}
}

// dropCounters collects every drop and discard counter the node reports:
// data-path drops (global and per network) and gossip drops.
func dropCounters(c *cluster, i int) map[string]uint64 {
	st, err := c.ms[i].Status()
	if err != nil {
		return nil
	}
	out := map[string]uint64{}
	for k, v := range st.Drops {
		out["data:"+k] += v
	}
	for _, n := range st.Networks {
		for k, v := range n.Counters.Drops {
			out["data:"+k] += v
		}
	}
	for k, v := range st.Gossip.Dropped {
		out["gossip:"+k] += v
	}
	out["keys:rejected"] = st.Keys.Rejected
	return out
}

// diffCounters lists the counters that grew.
func diffCounters(before, after map[string]uint64) string {
	var out []string
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			out = append(out, fmt.Sprintf("%s +%d", k, d))
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

func sumDiff(before, after map[string]uint64) uint64 {
	var n uint64
	for k, v := range after {
		n += v - before[k]
	}
	return n
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
