package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/blake2s"
)

// interrupted is set when a flood is asked to end early.
var interrupted atomic.Bool

// FloodResult is what `xfer flood` prints.
type FloodResult struct {
	Kind    string         `json:"kind"`
	Sent    uint64         `json:"sent"` // packets, or connections for gossip-tcp
	Bytes   uint64         `json:"bytes"`
	Seconds float64        `json:"seconds"`
	Replies map[string]int `json:"replies,omitempty"` // by WireGuard message type, for wg-*
	Errors  uint64         `json:"errors"`
}

// WireGuard message layout (the initiation is 148 bytes, mac1 covers the
// first 116 and sits at 116..132, mac2 at 132..148).
const (
	wgInitiationSize = 148
	wgMAC1Offset     = 116
	wgLabelMAC1      = "mac1----"
)

// flood sends hostile input to a node's front door at a bounded rate for a
// bounded time, as an attacker on the underlay could:
//
//	vxlan       malformed VXLAN (bad flags, unknown VNIs, runts, oversized)
//	gossip-udp  junk and oversized datagrams to the gossip port
//	gossip-tcp  -conns concurrent streams claiming an encrypted push/pull of
//	            -claim bytes and sending junk until the node closes them
//	wg-junk     garbage datagrams to the WireGuard port
//	wg-init     well-formed WireGuard handshake initiations with a valid
//	            mac1 for -pubkey (garbage inside), counting what comes back
//	broadcast   64-byte UDP datagrams to a broadcast address (a host on the
//	            overlay flooding its network)
func flood(args []string) error {
	fs := flag.NewFlagSet("flood", flag.ExitOnError)
	kind := fs.String("kind", "", "vxlan, gossip-udp, gossip-tcp, wg-junk, wg-init or broadcast")
	to := fs.String("to", "", "target ip:port")
	rate := fs.Int("rate", 1000, "packets per second (0: as fast as possible)")
	duration := fs.Duration("duration", 5*time.Second, "how long to flood (SIGINT ends it sooner)")
	pubkey := fs.String("pubkey", "", "target's WireGuard public key (base64), for wg-init")
	conns := fs.Int("conns", 8, "concurrent streams, for gossip-tcp")
	claim := fs.Int("claim", 20<<20-1, "push/pull size each stream claims, for gossip-tcp")
	fs.Parse(args)
	res := FloodResult{Kind: *kind, Replies: map[string]int{}}
	// SIGINT ends a flood early, still reporting what was sent.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() { <-sig; interrupted.Store(true) }()
	start := time.Now()
	var err error
	switch *kind {
	case "gossip-tcp":
		err = floodStreams(*to, *conns, *claim, *duration, &res)
	case "vxlan", "gossip-udp", "wg-junk", "wg-init", "broadcast":
		err = floodDatagrams(*kind, *to, *rate, *duration, *pubkey, &res)
	default:
		err = fmt.Errorf("unknown flood kind %q", *kind)
	}
	if err != nil {
		return err
	}
	res.Seconds = time.Since(start).Seconds()
	return json.NewEncoder(os.Stdout).Encode(res)
}

func floodDatagrams(kind, to string, rate int, duration time.Duration, pubkey string, res *FloodResult) error {
	c, err := net.Dial("udp", to)
	if err != nil {
		return err
	}
	defer c.Close()
	var mac1Key [blake2s.Size]byte
	if kind == "wg-init" {
		pk, err := base64.StdEncoding.DecodeString(pubkey)
		if err != nil || len(pk) != 32 {
			return fmt.Errorf("-pubkey %q: want a base64 Curve25519 public key", pubkey)
		}
		mac1Key = blake2s.Sum256(append([]byte(wgLabelMAC1), pk...))
	}
	var mu sync.Mutex
	done := make(chan struct{})
	go func() { // count what the target answers, by WireGuard message type
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, err := c.Read(buf)
			if err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					return
				}
				continue // ICMP port unreachable surfaces as a read error
			}
			if n > 0 {
				mu.Lock()
				res.Replies[fmt.Sprintf("type-%d", buf[0])]++
				mu.Unlock()
			}
		}
	}()
	buf := make([]byte, 65000)
	start := time.Now()
	for i := 0; time.Since(start) < duration && !interrupted.Load(); i++ {
		if rate > 0 {
			time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))))
		}
		pkt := hostileDatagram(kind, i, buf, &mac1Key)
		if _, err := c.Write(pkt); err != nil {
			res.Errors++
			continue
		}
		res.Sent++
		res.Bytes += uint64(len(pkt))
	}
	// Replies to the last packets may still be on their way.
	c.SetReadDeadline(time.Now().Add(time.Second))
	<-done
	return nil
}

// hostileDatagram fills buf with the i-th packet of a flood of kind.
func hostileDatagram(kind string, i int, buf []byte, mac1Key *[blake2s.Size]byte) []byte {
	var small [2]byte
	rand.Read(small[:])
	r := int(binary.BigEndian.Uint16(small[:]))
	switch kind {
	case "vxlan":
		var n int
		switch i % 5 {
		case 0: // runt: shorter than a VXLAN header
			n = r % 8
		case 1: // header only, no frame
			n = 8
		case 2: // oversized, fragmented on the wire
			n = 9000 + r%20000
		default:
			n = 8 + r%1500
		}
		p := buf[:n]
		rand.Read(p)
		if i%5 == 3 && n >= 8 { // a proper header with a random VNI and a junk frame
			p[0], p[1], p[2], p[3], p[7] = 0x08, 0, 0, 0, 0
		}
		return p
	case "gossip-udp":
		n := 1 + r%1400
		if i%10 == 0 {
			n = 60000 // oversized
		}
		p := buf[:n]
		rand.Read(p)
		return p
	case "wg-junk":
		sizes := []int{1, 4, 32, 148, 92, 64, 1500}
		p := buf[:sizes[i%len(sizes)]]
		rand.Read(p)
		if len(p) >= 4 {
			p[0] = byte(1 + i%4) // claim a real message type
		}
		return p
	case "broadcast":
		p := buf[:64]
		binary.BigEndian.PutUint64(p, uint64(i))
		return p
	case "wg-init":
		p := buf[:wgInitiationSize]
		rand.Read(p)
		p[0], p[1], p[2], p[3] = 1, 0, 0, 0
		h, _ := blake2s.New128(mac1Key[:])
		h.Write(p[:wgMAC1Offset])
		h.Sum(p[:wgMAC1Offset])
		clear(p[wgMAC1Offset+16:]) // no cookie, so no mac2
		return p
	}
	return buf[:0]
}

// floodStreams opens conns streams at once to the gossip port, each
// claiming an encrypted push/pull of claim bytes and then sending junk
// until the node closes it or duration passes, and repeats.
func floodStreams(to string, conns, claim int, duration time.Duration, res *FloodResult) error {
	deadline := time.Now().Add(duration)
	var sent, bytes, errs atomic.Uint64
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			junk := make([]byte, 64<<10)
			rand.Read(junk)
			for time.Now().Before(deadline) {
				c, err := net.DialTimeout("tcp", to, time.Second)
				if err != nil {
					errs.Add(1)
					time.Sleep(100 * time.Millisecond)
					continue
				}
				sent.Add(1)
				c.SetDeadline(deadline)
				var hdr [5]byte
				hdr[0] = 10 // memberlist's encryptMsg
				binary.BigEndian.PutUint32(hdr[1:], uint32(claim))
				c.Write(hdr[:])
				left := claim
				for left > 0 {
					n, err := c.Write(junk[:min(left, len(junk))])
					bytes.Add(uint64(n))
					if err != nil {
						break
					}
					left -= n
				}
				// Hold the stream open until the node answers or closes it.
				io.Copy(io.Discard, c)
				c.Close()
			}
		}()
	}
	wg.Wait()
	res.Sent, res.Bytes, res.Errors = sent.Load(), bytes.Load(), errs.Load()
	return nil
}
