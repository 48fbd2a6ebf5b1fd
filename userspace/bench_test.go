package userspace

import (
	"io"
	"net"
	"net/netip"
	"testing"
)

// BenchmarkSOCKS5Throughput measures one TCP stream from a host client
// through the SOCKS5 proxy, across two cabled userspace stacks, into a sink
// on the other node. Compare with tun's BenchmarkNetstackTCP (the same
// stacks without the proxy) to see what the proxy costs.
func BenchmarkSOCKS5Throughput(b *testing.B) {
	benchThroughput(b, func(b *testing.B, s *Server) net.Conn {
		c, err := net.Dial("tcp", s.Bound().SOCKS5.String())
		if err != nil {
			b.Fatal(err)
		}
		c.Write(append([]byte{5, 1, 0}, socksRequestBytes(socksCmdConnect, "web.mesh", 5201)...))
		if _, err := io.ReadFull(c, make([]byte, 2+10)); err != nil {
			b.Fatal(err)
		}
		return c
	})
}

// BenchmarkForwardThroughput is the same through a TCP forward.
func BenchmarkForwardThroughput(b *testing.B) {
	benchThroughput(b, func(b *testing.B, s *Server) net.Conn {
		c, err := net.Dial("tcp", s.Bound().Forwards[0].String())
		if err != nil {
			b.Fatal(err)
		}
		return c
	})
}

func benchThroughput(b *testing.B, connect func(*testing.B, *Server) net.Conn) {
	n := newTestNet(b)
	l, err := NewNetstack(n.web.Net()).ListenTCP(netip.AddrPortFrom(webAddr4, 5201))
	if err != nil {
		b.Fatal(err)
	}
	sunk := make(chan int64, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			sunk <- 0
			return
		}
		k, _ := io.Copy(io.Discard, c)
		c.Close()
		sunk <- k
	}()
	defer l.Close()
	cfg := testConfig()
	cfg.Forwards = []Forward{{Network: "tcp", Host: "web.mesh", Port: 5201}}
	s, _ := n.startServer(b, cfg)
	c := connect(b, s)
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	c.(*net.TCPConn).CloseWrite()
	if k := <-sunk; k != int64(b.N)*int64(len(buf)) {
		b.Fatalf("the sink got %d bytes, want %d", k, int64(b.N)*int64(len(buf)))
	}
	c.Close()
}
