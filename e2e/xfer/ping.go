package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// Probe is one echo request's fate, as `xfer ping` prints it: one JSON line
// per request, once it was answered or its timeout passed.
type Probe struct {
	Sent  int64  `json:"t"` // send time, Unix nanoseconds
	Dst   string `json:"dst"`
	Seq   int    `json:"seq"`
	OK    bool   `json:"ok"`
	RTTus int64  `json:"rtt_us,omitempty"`
	Err   string `json:"err,omitempty"` // the send failed (no route, device gone)
}

// pingMatrix sends an ICMP echo request to every target each interval and
// prints every probe's outcome with its send time, so losses can be placed
// in time. Unlike ping(8) it keeps one timeline across a vanishing local
// device (a send error is a lost probe with a reason) and reports a probe
// only once, when it is settled. It runs until SIGINT/SIGTERM or -duration.
func pingMatrix(args []string) error {
	fs := flag.NewFlagSet("ping", flag.ExitOnError)
	targets := fs.String("targets", "", "comma-separated IPv4 addresses")
	interval := fs.Duration("interval", 200*time.Millisecond, "time between rounds")
	timeout := fs.Duration("timeout", 2*time.Second, "a reply later than this is a loss")
	duration := fs.Duration("duration", 0, "stop after this long (0: until signalled)")
	fs.Parse(args)
	var dsts []netip.Addr
	for _, s := range strings.Split(*targets, ",") {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil || !a.Is4() {
			return fmt.Errorf("target %q: want an IPv4 address", s)
		}
		dsts = append(dsts, a)
	}
	c, err := icmp.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		return err
	}
	defer c.Close()
	id := os.Getpid() & 0xffff
	type key struct {
		dst netip.Addr
		seq int
	}
	var mu sync.Mutex
	pending := map[key]time.Time{}
	out := json.NewEncoder(os.Stdout)
	emit := func(p Probe) {
		mu.Lock()
		defer mu.Unlock()
		out.Encode(p)
	}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			now := time.Now()
			m, err := icmp.ParseMessage(1, buf[:n])
			if err != nil || m.Type != ipv4.ICMPTypeEchoReply {
				continue
			}
			echo, ok := m.Body.(*icmp.Echo)
			if !ok || echo.ID != id {
				continue
			}
			ip, _ := netip.AddrFromSlice(from.(*net.IPAddr).IP)
			k := key{ip.Unmap(), echo.Seq}
			mu.Lock()
			sent, ok := pending[k]
			delete(pending, k)
			if ok && now.Sub(sent) <= *timeout {
				out.Encode(Probe{Sent: sent.UnixNano(), Dst: k.dst.String(), Seq: k.seq, OK: true, RTTus: now.Sub(sent).Microseconds()})
			}
			mu.Unlock()
		}
	}()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	var end <-chan time.Time
	if *duration > 0 {
		end = time.After(*duration)
	}
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	expire := func(all bool) {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		for k, sent := range pending {
			if all || now.Sub(sent) > *timeout {
				delete(pending, k)
				out.Encode(Probe{Sent: sent.UnixNano(), Dst: k.dst.String(), Seq: k.seq})
			}
		}
	}
	fmt.Fprintln(os.Stderr, "pinging", *targets)
	for seq := 1; ; seq++ {
		for _, d := range dsts {
			msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: seq & 0xffff, Data: []byte("meshnet-chaos")}}
			b, _ := msg.Marshal(nil)
			k := key{d, seq & 0xffff}
			mu.Lock()
			sent := time.Now()
			pending[k] = sent
			mu.Unlock()
			if _, err := c.WriteTo(b, &net.IPAddr{IP: d.AsSlice()}); err != nil {
				mu.Lock()
				delete(pending, k)
				mu.Unlock()
				emit(Probe{Sent: sent.UnixNano(), Dst: d.String(), Seq: k.seq, Err: err.Error()})
			}
		}
		expire(false)
		select {
		case <-tick.C:
		case <-stop:
			time.Sleep(*timeout) // let the last round settle
			expire(true)
			return nil
		case <-end:
			time.Sleep(*timeout)
			expire(true)
			return nil
		}
	}
}
