package gossip

import (
	"bufio"
	"bytes"
	"net"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"meshnet.dev/meshnet/gossip/memnet"
)

// Each decoder must never panic, and whatever it accepts must survive an
// encode/decode round trip unchanged. Seeds live in testdata/fuzz.

func FuzzTableEvents(f *testing.F) {
	f.Add(sampleTableEvents().encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeTableEvents(b)
		if err != nil {
			return
		}
		again, err := decodeTableEvents(m.encode())
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, m)
		}
	})
}

func FuzzNetworkEvents(f *testing.F) {
	f.Add(sampleNetworkEvents().encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeNetworkEvents(b)
		if err != nil {
			return
		}
		again, err := decodeNetworkEvents(m.encode())
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, m)
		}
	})
}

func FuzzBulkSync(f *testing.F) {
	f.Add(sampleBulkSync().encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeBulkSync(b)
		if err != nil {
			return
		}
		again, err := decodeBulkSync(m.encode())
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, m)
		}
	})
}

func FuzzDigest(f *testing.F) {
	f.Add(sampleDigest().encode())
	f.Add(digestMsg{Sender: "mngsp-a", Members: true, Digest: digest{count: 1, sum: 2}}.encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeDigest(b)
		if err != nil {
			return
		}
		again, err := decodeDigest(m.encode())
		if err != nil || again != m {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, m)
		}
	})
}

func FuzzCoordinate(f *testing.F) {
	f.Add(appendCoordinate(nil, sampleCoordinate(), 1.7e9))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, clock, err := decodeCoordinate(b)
		if err != nil {
			return
		}
		again, clock2, err := decodeCoordinate(appendCoordinate(nil, c, clock))
		if err != nil || !reflect.DeepEqual(again, c) || clock2 != clock {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, c)
		}
	})
}

// FuzzHandleMessage feeds arbitrary messages through the whole receive
// path of a DB that knows a peer, so merge logic sees hostile input too.
func FuzzHandleMessage(f *testing.F) {
	for _, b := range [][]byte{sampleTableEvents().encode(), sampleNetworkEvents().encode(), sampleBulkSync().encode(), sampleDigest().encode()} {
		f.Add(b)
	}
	d := fuzzDB(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		d.handleMessage(b)
		d.mu.Lock()
		defer d.mu.Unlock()
		for id, n := range d.networks {
			count := 0
			n.each(func(entryID, *entryRec) { count++ })
			if count != n.count || count > MaxEntriesPerNetwork {
				t.Fatalf("network %q: count %d, stored %d", id, n.count, count)
			}
		}
	})
}

// fuzzDB is a lone DB that has joined "blue" and knows the members named
// in the samples, so messages get past the sender and owner checks.
func fuzzDB(tb testing.TB) *DB {
	cfg := DefaultConfig()
	cfg.Name = "mngsp-fuzz"
	cfg.Transport = memnet.New(1).NewTransport(cfg.Name)
	d, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = d.Shutdown() })
	for i, name := range []string{"mngsp-a", "mngsp-b", "mngsp-c", "s", "o", "n"} {
		d.onMemberJoin(&memberlist.Node{Name: name, Addr: net.IPv4(10, 9, 0, byte(i+1)), Port: 7946})
	}
	if err := d.JoinNetwork("blue"); err != nil {
		tb.Fatal(err)
	}
	return d
}

// FuzzStreamGuard feeds any opening of an inbound stream to the guard:
// it admits, refuses or hands off without panicking, and always gives its
// slot back.
func FuzzStreamGuard(f *testing.F) {
	f.Add([]byte{mlEncryptMsg, 0, 0, 1, 0})
	f.Add([]byte{mlEncryptMsg, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{mlHasLabelMsg, 3, 'a', 'b', 'c', mlEncryptMsg, 0, 0, 0, 9})
	f.Add([]byte{sideRequestMsg, 0, 1, 'x'})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		g := &streamGuard{refused: func() {}, side: func(c net.Conn, _ *bufio.Reader) { c.Close() }}
		if !g.take() {
			t.Fatal("no slot")
		}
		client, server := net.Pipe()
		go func() {
			client.Write(b)
			client.Close()
		}()
		if c := g.admit(server); c != nil {
			c.Close()
		}
		if g.active.Load() != 0 || g.claimed.Load() != 0 {
			t.Fatalf("slot or claim not given back: %d streams, %d bytes", g.active.Load(), g.claimed.Load())
		}
	})
}

// FuzzPacketAuth: any datagram is checked without panicking, and junk is
// never taken for a sealed packet.
func FuzzPacketAuth(f *testing.F) {
	ring, err := memberlist.NewKeyring([][]byte{bytes.Repeat([]byte{1}, 32)}, bytes.Repeat([]byte{1}, 32))
	if err != nil {
		f.Fatal(err)
	}
	a := newPacketAuth(ring)
	f.Add(make([]byte, 40))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		if a.ok(b) {
			t.Fatalf("unsealed bytes passed: %x", b)
		}
	})
}

// FuzzLogBridge: any line memberlist could write is handled.
func FuzzLogBridge(f *testing.F) {
	b := newLogBridge(testLogger(), &counters{}, time.Now)
	f.Add([]byte("[ERR] memberlist: Decrypt packet failed: x from=1.2.3.4:5"))
	f.Add([]byte("[WARN]"))
	f.Fuzz(func(t *testing.T, line []byte) {
		if n, err := b.Write(line); n != len(line) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	})
}
