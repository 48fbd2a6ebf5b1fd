package gossip

import (
	"bytes"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// Datagrams no member sends (over maxGossipPacket) are dropped and
// counted before memberlist sees them; others arrive whole, each in a
// buffer of its own; Shutdown frees the port.
func TestNetTransportDropsOversizedDatagrams(t *testing.T) {
	var oversized atomic.Int64
	tr, err := listenNet("127.0.0.1", 0, netHooks{oversized: func() { oversized.Add(1) }, log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	addr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: tr.port()}
	c, err := net.DialUDP("udp", nil, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(make([]byte, 60000))
	c.Write(make([]byte, maxGossipPacket+1))
	c.Write([]byte("first"))
	c.Write([]byte("second"))
	var got []string
	for len(got) < 2 {
		select {
		case p := <-tr.PacketCh():
			got = append(got, string(p.Buf))
			if cap(p.Buf) > 64 {
				t.Errorf("a %d-byte packet holds a %d-byte buffer", len(p.Buf), cap(p.Buf))
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("packets received: %q", got)
		}
	}
	if got[0] != "first" || got[1] != "second" || oversized.Load() != 2 {
		t.Fatalf("got %q with %d oversized drops, want first, second and 2", got, oversized.Load())
	}
	if err := tr.Shutdown(); err != nil {
		t.Fatal(err)
	}
	again, err := listenNet("127.0.0.1", tr.port(), netHooks{oversized: func() {}, log: t.Logf})
	if err != nil {
		t.Fatalf("port not free after Shutdown: %v", err)
	}
	again.Shutdown()
}

// Datagrams not sealed with a gossip key never reach memberlist: junk and
// packets under another key are counted as undecryptable.
func TestUnsealedDatagramsDroppedBeforeMemberlist(t *testing.T) {
	d, addr := startLoopback(t, "mngsp-auth", nil)
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	junk := make([]byte, 200)
	junk[0] = 1 // a valid encryption version, so only the tag can tell
	for range 50 {
		c.Write(junk)
	}
	waitFor(t, 5*time.Second, func() error {
		if n := d.Stats().Dropped["undecryptable"]; n < 50 {
			return fmt.Errorf("%d undecryptable drops", n)
		}
		return nil
	})
	// A node with another key cannot get in, and its packets are dropped
	// the same way.
	cfg := DefaultConfig()
	cfg.Name, cfg.BindAddr, cfg.BindPort = "mngsp-stranger", "127.0.0.1", 0
	cfg.Keys = [][]byte{bytes.Repeat([]byte{9}, 32)}
	cfg.Tune = fastMemberlist
	cfg.Logger = testLogger()
	other, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Shutdown()
	if _, err := other.Join([]string{addr}); err == nil {
		t.Fatal("a node with another key joined")
	}
	if len(d.Members()) != 1 {
		t.Fatalf("members: %v", d.Members())
	}
}

// Checking a junk datagram allocates nothing once the ciphers are built.
func TestPacketAuthAllocatesNothing(t *testing.T) {
	ring, err := memberlist.NewKeyring([][]byte{bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)}, bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	a := newPacketAuth(ring)
	junk := make([]byte, 1400)
	junk[0] = 1
	if n := testing.AllocsPerRun(100, func() { a.ok(junk) }); n != 0 {
		t.Fatalf("%.1f allocations per junk datagram", n)
	}
}
