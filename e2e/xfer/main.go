// Command xfer is the traffic tool of meshnet's end-to-end tests: it moves a
// deterministic stream of bytes over TCP and prints its SHA-256 and
// throughput, serves and fetches tiny HTTP pages, resolves names through a
// given DNS server and injects hand-made VXLAN, all with JSON output.
//
//	xfer recv -listen :5001
//	xfer send -to 10.42.0.2:5001 -bytes 209715200
//	xfer inject -to 192.168.77.2:4789 -vni 42 -count 100   (hand-made plain VXLAN)
//	xfer serve -listen 10.42.0.2:80 -name h2                (HTTP: answers its name)
//	xfer get -url http://web.meshnet.internal/ -n 300 -dns 10.42.0.1:53
//	xfer dig -dns 10.42.0.1:53 -name web.meshnet.internal
//	xfer mdns -name h2.local -iface mn-red                 (one-shot mDNS query)
//	xfer flood -kind broadcast -to 10.42.0.255:9 -rate 20000
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"time"

	"golang.org/x/net/proxy"
)

// Result is what xfer prints.
type Result struct {
	Bytes   int64   `json:"bytes"`
	SHA256  string  `json:"sha256"`
	Seconds float64 `json:"seconds"`
	Mbps    float64 `json:"mbps"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: xfer recv -listen ADDR | xfer send -to ADDR -bytes N")
		os.Exit(2)
	}
	modes := map[string]func([]string) error{
		"recv": recv, "send": send, "inject": inject, "serve": serve, "get": get, "dig": dig,
		"fetch": fetch1, "ping": pingMatrix, "loop": loop, "stream": stream, "recvlog": recvlog,
		"flood": flood, "mdns": mdns,
	}
	var err error
	if run, ok := modes[os.Args[1]]; ok {
		err = run(os.Args[2:])
	} else {
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "xfer:", err)
		os.Exit(1)
	}
}

func recv(args []string) error {
	fs := flag.NewFlagSet("recv", flag.ExitOnError)
	listen := fs.String("listen", ":5001", "address to listen on")
	fs.Parse(args)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Println("listening")
	c, err := ln.Accept()
	if err != nil {
		return err
	}
	defer c.Close()
	h := sha256.New()
	start := time.Now()
	n, err := io.Copy(h, c)
	if err != nil {
		return err
	}
	return report(n, h.Sum(nil), time.Since(start))
}

func send(args []string) error {
	fs := flag.NewFlagSet("send", flag.ExitOnError)
	to := fs.String("to", "", "receiver address")
	total := fs.Int64("bytes", 200<<20, "bytes to send")
	seed := fs.Uint64("seed", 1, "seed of the byte stream")
	mbps := fs.Float64("mbps", 0, "pace the stream at this rate (0: as fast as possible)")
	socks := fs.String("socks5", "", "dial through this SOCKS5 proxy (ip:port)")
	fs.Parse(args)
	dial := func() (net.Conn, error) { return net.DialTimeout("tcp", *to, 2*time.Second) }
	if *socks != "" {
		d, err := proxy.SOCKS5("tcp", *socks, nil, &net.Dialer{Timeout: 2 * time.Second})
		if err != nil {
			return err
		}
		dial = func() (net.Conn, error) { return d.Dial("tcp", *to) }
	}
	var c net.Conn
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err = dial()
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // the receiver may not listen yet
	}
	if err != nil {
		return err
	}
	defer c.Close()
	rng := rand.NewChaCha8([32]byte{byte(*seed)})
	h := sha256.New()
	buf := make([]byte, 256<<10)
	start := time.Now()
	var sent int64
	for sent < *total {
		if *mbps > 0 {
			// Pace: never ahead of the target rate.
			due := start.Add(time.Duration(float64(sent*8) / (*mbps * 1e6) * float64(time.Second)))
			time.Sleep(time.Until(due))
		}
		chunk := buf[:min(int64(len(buf)), *total-sent)]
		rng.Read(chunk)
		h.Write(chunk)
		if _, err := c.Write(chunk); err != nil {
			return err
		}
		sent += int64(len(chunk))
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		io.Copy(io.Discard, c) // wait for the receiver to close
	} else {
		c.Close() // a proxied connection: no half-close, the FIN follows the data
	}
	return report(sent, h.Sum(nil), time.Since(start))
}

func report(n int64, sum []byte, d time.Duration) error {
	return json.NewEncoder(os.Stdout).Encode(Result{
		Bytes: n, SHA256: hex.EncodeToString(sum), Seconds: d.Seconds(),
		Mbps: float64(n) * 8 / d.Seconds() / 1e6,
	})
}

// inject sends hand-made plain VXLAN packets carrying a broadcast frame, as
// an attacker on the underlay could.
func inject(args []string) error {
	fs := flag.NewFlagSet("inject", flag.ExitOnError)
	to := fs.String("to", "", "node address:port")
	vni := fs.Uint("vni", 1, "VNI to claim")
	count := fs.Int("count", 10, "packets to send")
	fs.Parse(args)
	c, err := net.Dial("udp", *to)
	if err != nil {
		return err
	}
	defer c.Close()
	pkt := make([]byte, 8+14+28)
	pkt[0] = 0x08 // I flag
	pkt[4], pkt[5], pkt[6] = byte(*vni>>16), byte(*vni>>8), byte(*vni)
	frame := pkt[8:]
	copy(frame[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(frame[6:12], []byte{0x02, 0xba, 0xd0, 0x00, 0x00, 0x01})
	frame[12], frame[13] = 0x08, 0x00
	for range *count {
		if _, err := c.Write(pkt); err != nil {
			return err
		}
	}
	fmt.Printf("{\"sent\": %d}\n", *count)
	return nil
}
