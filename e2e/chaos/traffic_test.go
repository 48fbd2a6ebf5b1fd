package chaos

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"meshnet.dev/meshnet/e2e/netlab"
)

// sample is one accounted unit of traffic: an echo request or an HTTP
// request, with the time it was sent.
type sample struct {
	flow     string // "ping" or "http"
	src, dst string // host names
	t        time.Time
	ok       bool
	why      string
}

// progress is a point of the TCP stream's receiver: bytes so far at t.
type progress struct {
	t     time.Time
	bytes int64
}

// traffic is the accounted load of a chaos run: a ping matrix, an HTTP
// request loop through a service's name and VIP, and a paced TCP stream.
type traffic struct {
	c       *cluster
	pingers map[int]*netlab.Proc
	targets map[int][]int
	client  int // the HTTP loop's host
	loop    *netlab.Proc
	from    int // the stream's sender
	to      int // the stream's receiver
	send    *netlab.Proc
	recv    *netlab.Proc
}

// pingOffsets: host i pings hosts i+1, i+2 and i+4 (mod n).
var pingOffsets = []int{1, 2, 4}

// pingInterval is the ping matrix's period per target.
const pingInterval = 200 * time.Millisecond

// startPings starts the ping matrix.
func (tr *traffic) startPings() {
	c := tr.c
	n := len(c.hosts)
	tr.pingers, tr.targets = map[int]*netlab.Proc{}, map[int][]int{}
	for i, h := range c.hosts {
		var ips []string
		for _, off := range pingOffsets {
			j := (i + off) % n
			if j == i || slices.Contains(tr.targets[i], j) {
				continue
			}
			tr.targets[i] = append(tr.targets[i], j)
			ips = append(ips, overlayIP(j).String())
		}
		p, err := h.Start("ping", bin.xfer, "ping", "-targets", strings.Join(ips, ","), "-interval", pingInterval.String(), "-timeout", "2s")
		if err != nil {
			c.t.Fatal(err)
		}
		tr.pingers[i] = p
	}
}

// startHTTP starts the request loop on host client against url, resolving
// through the client's own node's DNS.
func (tr *traffic) startHTTP(client int, url string) {
	tr.client = client
	p, err := tr.c.hosts[client].Start("loop", bin.xfer, "loop", "-url", url,
		"-dns", overlayIP(client).String()+":53", "-interval", "200ms", "-timeout", "1s")
	if err != nil {
		tr.c.t.Fatal(err)
	}
	tr.loop = p
}

// startStream starts a paced TCP stream from host from to host to.
func (tr *traffic) startStream(from, to int, mbps int) {
	c := tr.c
	tr.from, tr.to = from, to
	recv, err := c.hosts[to].Start("recvlog", bin.xfer, "recvlog", "-listen", overlayIP(to).String()+":5001", "-every", "100ms")
	if err != nil {
		c.t.Fatal(err)
	}
	err = netlab.Poll(10*time.Second, 20*time.Millisecond, func() error {
		if !strings.Contains(recv.Output(), "listening") {
			return fmt.Errorf("stream receiver not listening: %s", recv.Output())
		}
		return nil
	})
	if err != nil {
		c.t.Fatal(err)
	}
	send, err := c.hosts[from].Start("stream", bin.xfer, "stream", "-to", overlayIP(to).String()+":5001",
		"-mbps", fmt.Sprint(mbps), "-duration", "24h")
	if err != nil {
		c.t.Fatal(err)
	}
	tr.send, tr.recv = send, recv
}

// streamResult is the stream's end: both sides' byte counts and digests.
type streamResult struct {
	sent, got xferResult
	progress  []progress
}

// xferResult mirrors the xfer tool's Result.
type xferResult struct {
	Bytes   int64   `json:"bytes"`
	SHA256  string  `json:"sha256"`
	Seconds float64 `json:"seconds"`
	Mbps    float64 `json:"mbps"`
}

// stop ends every flow and collects what each saw.
func (tr *traffic) stop() ([]sample, *streamResult) {
	c := tr.c
	var procs []*netlab.Proc
	for _, p := range tr.pingers {
		procs = append(procs, p)
	}
	if tr.loop != nil {
		procs = append(procs, tr.loop)
	}
	if tr.send != nil {
		procs = append(procs, tr.send)
	}
	for _, p := range procs {
		p.Signal(syscall.SIGTERM)
	}
	for _, p := range procs {
		if err := p.Wait(30 * time.Second); err != nil {
			c.t.Errorf("traffic process on exit: %v\n%s", err, tail([]byte(p.Output()), 2048))
		}
	}
	var samples []sample
	for i, p := range tr.pingers {
		byIP := map[string]string{}
		for _, j := range tr.targets[i] {
			byIP[overlayIP(j).String()] = c.hosts[j].Name
		}
		eachLine(p.Log, func(line []byte) {
			var pr struct {
				T   int64  `json:"t"`
				Dst string `json:"dst"`
				OK  bool   `json:"ok"`
				Err string `json:"err"`
			}
			if json.Unmarshal(line, &pr) != nil || pr.T == 0 {
				return
			}
			samples = append(samples, sample{flow: "ping", src: c.hosts[i].Name, dst: byIP[pr.Dst], t: time.Unix(0, pr.T), ok: pr.OK, why: pr.Err})
		})
	}
	if tr.loop != nil {
		eachLine(tr.loop.Log, func(line []byte) {
			var r struct {
				T   int64  `json:"t"`
				OK  bool   `json:"ok"`
				Err string `json:"err"`
			}
			if json.Unmarshal(line, &r) != nil || r.T == 0 {
				return
			}
			samples = append(samples, sample{flow: "http", src: c.hosts[tr.client].Name, dst: "web", t: time.Unix(0, r.T), ok: r.OK, why: r.Err})
		})
	}
	var sr *streamResult
	if tr.send != nil {
		sr = &streamResult{}
		if err := tr.recv.Wait(30 * time.Second); err != nil {
			c.t.Errorf("stream receiver: %v\n%s", err, tail([]byte(tr.recv.Output()), 2048))
		}
		eachLine(tr.send.Log, func(line []byte) { json.Unmarshal(line, &sr.sent) })
		eachLine(tr.recv.Log, func(line []byte) {
			var pg struct {
				T     int64 `json:"t"`
				Bytes int64 `json:"bytes"`
			}
			if json.Unmarshal(line, &pg) == nil && pg.T != 0 {
				sr.progress = append(sr.progress, progress{time.Unix(0, pg.T), pg.Bytes})
				return
			}
			json.Unmarshal(line, &sr.got)
		})
	}
	return samples, sr
}

// eachLine calls fn with every line of a file.
func eachLine(path string, fn func([]byte)) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fn(sc.Bytes())
	}
}
