package gossip

import (
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// Datagrams no member sends (over maxGossipPacket) are dropped and
// counted before memberlist sees them; others arrive whole, each in a
// buffer of its own; Shutdown frees the port.
func TestNetTransportDropsOversizedDatagrams(t *testing.T) {
	var oversized atomic.Int64
	tr, err := listenNet("127.0.0.1", 0, func() { oversized.Add(1) }, t.Logf)
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
	again, err := listenNet("127.0.0.1", tr.port(), func() {}, t.Logf)
	if err != nil {
		t.Fatalf("port not free after Shutdown: %v", err)
	}
	again.Shutdown()
}
