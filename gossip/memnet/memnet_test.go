package memnet

import (
	"errors"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/memberlist"
)

func addr(t *Transport) memberlist.Address {
	return memberlist.Address{Addr: t.Addr().String(), Name: t.name}
}

// recv returns the packets waiting for t.
func recv(t *Transport) int {
	n := 0
	for {
		select {
		case <-t.PacketCh():
			n++
		default:
			return n
		}
	}
}

func TestPacketsDeliveredAndCounted(t *testing.T) {
	n := New(1)
	a, b := n.NewTransport("a"), n.NewTransport("b")
	if a.Addr() == b.Addr() {
		t.Fatal("two transports share an address")
	}
	if _, err := a.WriteToAddress([]byte("hello"), addr(b)); err != nil {
		t.Fatal(err)
	}
	p := <-b.PacketCh()
	if string(p.Buf) != "hello" || p.From.String() != a.Addr().String() {
		t.Errorf("got %q from %v", p.Buf, p.From)
	}
	ca, cb := n.Counters("a"), n.Counters("b")
	if ca.PacketsSent != 1 || ca.PacketBytesSent != 5 || cb.PacketsReceived != 1 || cb.BytesReceived() != 5 {
		t.Errorf("counters a=%+v b=%+v", ca, cb)
	}
	// A stale name for an address is not delivered.
	if _, err := a.WriteToAddress([]byte("x"), memberlist.Address{Addr: b.Addr().String(), Name: "other"}); err != nil {
		t.Fatal(err)
	}
	if recv(b) != 0 || n.Counters("a").PacketsLost != 1 {
		t.Error("packet for another node's name delivered")
	}
}

func TestPartitionCrashAndHeal(t *testing.T) {
	n := New(1)
	a, b, c := n.NewTransport("a"), n.NewTransport("b"), n.NewTransport("c")
	n.Partition([]string{"a"}, []string{"b"})
	send := func(from, to *Transport) { _, _ = from.WriteToAddress([]byte("p"), addr(to)) }
	send(a, b)
	send(b, a)
	send(a, c)
	if recv(a) != 0 || recv(b) != 0 || recv(c) != 1 {
		t.Fatal("partition did not cut a<->b only")
	}
	n.Heal()
	send(a, b)
	if recv(b) != 1 {
		t.Fatal("heal did not restore a->b")
	}
	n.Crash("c")
	send(a, c)
	send(c, a)
	if recv(c) != 0 || recv(a) != 0 {
		t.Fatal("crashed node still talks")
	}
	n.Revive("c")
	send(a, c)
	if recv(c) != 1 {
		t.Fatal("revived node unreachable")
	}
	_ = c.Shutdown()
	send(a, c)
	if _, err := a.DialAddressTimeout(addr(c), time.Second); err == nil {
		t.Fatal("dial to a shut-down transport succeeded")
	}
}

func TestLossIsProbabilistic(t *testing.T) {
	n := New(7)
	a, b := n.NewTransport("a"), n.NewTransport("b")
	n.SetLoss(func(from, to string) float64 { return 0.3 })
	got := 0
	for range 2000 {
		_, _ = a.WriteToAddress([]byte("p"), addr(b))
		got += recv(b)
	}
	if got < 1250 || got > 1550 { // expected 1400
		t.Errorf("%d of 2000 delivered at 30%% loss", got)
	}
	if c := n.Counters("a"); c.PacketsLost+uint64(got) != 2000 {
		t.Errorf("lost %d + delivered %d != 2000", c.PacketsLost, got)
	}
}

func TestLatencyDelaysPackets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(1)
		a, b := n.NewTransport("a"), n.NewTransport("b")
		n.SetLatency(func(from, to string) time.Duration { return 30 * time.Millisecond })
		start := time.Now()
		_, _ = a.WriteToAddress([]byte("p"), addr(b))
		p := <-b.PacketCh()
		if d := p.Timestamp.Sub(start); d != 30*time.Millisecond {
			t.Errorf("delivered after %v, want 30ms", d)
		}
	})
}

func TestStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New(1)
		a, b := n.NewTransport("a"), n.NewTransport("b")
		n.SetLatency(func(from, to string) time.Duration { return 10 * time.Millisecond })
		start := time.Now()
		conn, err := a.DialAddressTimeout(addr(b), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 20*time.Millisecond {
			t.Errorf("dial took %v, want one round trip (20ms)", d)
		}
		server := <-b.StreamCh()
		if server.RemoteAddr().String() != a.Addr().String() {
			t.Errorf("server sees peer %v", server.RemoteAddr())
		}
		go func() { _, _ = conn.Write([]byte("hello")); _ = conn.Close() }()
		got, err := io.ReadAll(server)
		if err != nil || string(got) != "hello" {
			t.Fatalf("read %q, %v", got, err)
		}
		if ca, cb := n.Counters("a"), n.Counters("b"); ca.StreamBytesSent != 5 || cb.StreamBytesReceived != 5 || ca.StreamsOpened != 1 {
			t.Errorf("stream counters a=%+v b=%+v", ca, cb)
		}

		// A cut link fails writes on open streams, and dials time out.
		conn, err = a.DialAddressTimeout(addr(b), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		server = <-b.StreamCh()
		n.Partition([]string{"a"}, []string{"b"})
		if _, err := conn.Write([]byte("x")); !errors.Is(err, errLinkDown) {
			t.Errorf("write across a partition: %v", err)
		}
		if _, err := server.Read(make([]byte, 1)); err == nil {
			t.Error("read on a cut stream succeeded")
		}
		start = time.Now()
		if _, err := a.DialAddressTimeout(addr(b), 300*time.Millisecond); !errors.Is(err, errTimeout) {
			t.Errorf("dial across a partition: %v", err)
		}
		if d := time.Since(start); d != 300*time.Millisecond {
			t.Errorf("dial across a partition gave up after %v, want the timeout", d)
		}
	})
}

func TestDialErrors(t *testing.T) {
	n := New(1)
	a, b := n.NewTransport("a"), n.NewTransport("b")
	if _, err := a.DialTimeout("10.9.9.9:7946", time.Second); !errors.Is(err, errRefused) || err.Error() != "memnet: connection refused: 10.9.9.9:7946" {
		t.Errorf("unknown address: %v", err)
	}
	n.Crash("b")
	if _, err := a.DialAddressTimeout(memberlist.Address{Addr: b.Addr().String()}, time.Millisecond); !errors.Is(err, errTimeout) || err.Error() != "memnet: connection timed out: "+b.Addr().String() {
		t.Errorf("crashed peer: %v", err)
	}
}

func TestFilter(t *testing.T) {
	n := New(1)
	a, b, c := n.NewTransport("a"), n.NewTransport("b"), n.NewTransport("c")
	n.SetFilter(func(from, to string, p []byte) bool { return !(from == "a" && to == "b" && string(p) == "drop") })
	for _, p := range []string{"drop", "keep"} {
		for _, to := range []*Transport{b, c} {
			if _, err := a.WriteToAddress([]byte(p), addr(to)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := recv(b); got != 1 || n.Counters("a").PacketsLost != 1 {
		t.Errorf("b got %d packets, a lost %d: want the filtered one lost", got, n.Counters("a").PacketsLost)
	}
	if got := recv(c); got != 2 {
		t.Errorf("c got %d packets, want both", got)
	}
	n.SetFilter(nil)
	_, _ = a.WriteToAddress([]byte("drop"), addr(b))
	if got := recv(b); got != 1 {
		t.Errorf("b got %d packets after the filter was removed", got)
	}
}
