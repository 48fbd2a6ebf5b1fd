package main

import (
	"crypto/sha256"
	"encoding/json"
	"flag"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

// Progress is a line of `xfer recvlog`: bytes received so far.
type Progress struct {
	T     int64 `json:"t"` // Unix nanoseconds
	Bytes int64 `json:"bytes"`
}

// recvlog is recv that also prints its progress every -every, so stalls of
// a long stream can be placed in time. The last line is the Result.
func recvlog(args []string) error {
	fs := flag.NewFlagSet("recvlog", flag.ExitOnError)
	listen := fs.String("listen", ":5001", "address to listen on")
	every := fs.Duration("every", 250*time.Millisecond, "progress interval")
	fs.Parse(args)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	out := json.NewEncoder(os.Stdout)
	os.Stdout.WriteString("listening\n")
	c, err := ln.Accept()
	if err != nil {
		return err
	}
	defer c.Close()
	var n atomic.Int64
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(*every)
		defer t.Stop()
		for {
			select {
			case now := <-t.C:
				out.Encode(Progress{T: now.UnixNano(), Bytes: n.Load()})
			case <-done:
				return
			}
		}
	}()
	h := sha256.New()
	start := time.Now()
	buf := make([]byte, 64<<10)
	for {
		k, err := c.Read(buf)
		h.Write(buf[:k])
		n.Add(int64(k))
		if err == io.EOF {
			break
		}
		if err != nil {
			close(done)
			return err
		}
	}
	close(done)
	return report(n.Load(), h.Sum(nil), time.Since(start))
}

// stream sends a paced pseudo-random stream for -duration or until
// SIGINT/SIGTERM, then closes and prints the Result (bytes and SHA-256) to
// compare with the receiver's.
func stream(args []string) error {
	fs := flag.NewFlagSet("stream", flag.ExitOnError)
	to := fs.String("to", "", "receiver address")
	mbps := fs.Float64("mbps", 10, "pace")
	duration := fs.Duration("duration", time.Minute, "how long to send")
	seed := fs.Uint64("seed", 1, "seed of the byte stream")
	fs.Parse(args)
	var c net.Conn
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err = net.DialTimeout("tcp", *to, 2*time.Second)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // the receiver may not listen yet
	}
	if err != nil {
		return err
	}
	defer c.Close()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	rng := rand.NewChaCha8([32]byte{byte(*seed)})
	h := sha256.New()
	buf := make([]byte, 16<<10)
	start := time.Now()
	var sent int64
	for time.Since(start) < *duration && len(stop) == 0 {
		due := start.Add(time.Duration(float64(sent*8) / (*mbps * 1e6) * float64(time.Second)))
		time.Sleep(time.Until(due))
		rng.Read(buf)
		h.Write(buf)
		if _, err := c.Write(buf); err != nil {
			return err
		}
		sent += int64(len(buf))
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	io.Copy(io.Discard, c)
	return report(sent, h.Sum(nil), time.Since(start))
}
