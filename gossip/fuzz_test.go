package gossip

import (
	"bufio"
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"meshnet.dev/meshnet/gossip/memnet"
	"meshnet.dev/meshnet/gossip/wire"
)

// FuzzHandleMessage feeds arbitrary messages through the whole receive
// path of a DB that knows a peer, so merge logic sees hostile input too.
func FuzzHandleMessage(f *testing.F) {
	for _, b := range sampleMessages() {
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

// sampleMessages are one message of each type, from and about the members
// fuzzDB knows.
func sampleMessages() [][]byte {
	events := sampleEvents()
	records := []wire.NetRecord{
		{Node: "mngsp-a", Network: "blue", LTime: 3},
		{Node: "mngsp-b", Network: ClusterScope, LTime: 9, Leave: true, TTL: time.Minute},
	}
	return [][]byte{
		wire.TableEvents{Sender: "mngsp-a", Network: "blue", Events: events}.Append(nil),
		wire.NetworkEvents{Sender: "mngsp-a", Records: records}.Append(nil),
		wire.BulkSync{Sender: "mngsp-a", Network: "blue", Respond: true, Records: records, Entries: events}.Append(nil),
		wire.Digest{Sender: "mngsp-a", Network: "blue", Summary: wire.Summary{Count: 3, Sum: 1<<64 - 1}}.Append(nil),
	}
}

// sampleEvents are a value, a tombstone and an empty value, of three owners.
func sampleEvents() []wire.TableEvent {
	return []wire.TableEvent{
		{Table: "ep", Key: "10.0.0.1", Owner: "mngsp-a", LTime: 7, Value: []byte("02:42:ac:11:00:02")},
		{Table: "ep", Key: "10.0.0.2", Owner: "mngsp-b", LTime: 1 << 40, Deleted: true, TTL: 90 * time.Second},
		{Table: "svc", Key: "ünïcode", Owner: "mngsp-c", LTime: 1, Value: []byte{}},
	}
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
	f.Add([]byte{wire.SideRequestMsg, 0, 1, 'x'})
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
