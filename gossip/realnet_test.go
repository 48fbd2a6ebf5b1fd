package gossip

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// Three nodes over real UDP/TCP sockets on 127.0.0.1 with an encrypted
// keyring: the default transport path, encryption and key rotation work,
// and a node with the wrong key cannot get in.
func TestRealSocketsWithKeyring(t *testing.T) {
	baseline := runtime.NumGoroutine()
	keys := [][]byte{bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32)}
	start := func(name string, keys [][]byte) *DB {
		cfg := DefaultConfig()
		cfg.Name = name
		cfg.BindAddr = "127.0.0.1"
		cfg.BindPort = 0
		cfg.Keys, cfg.PrimaryKey = keys, 1
		cfg.GossipInterval = 50 * time.Millisecond
		cfg.Tune = fastMemberlist
		cfg.Logger = testLogger().With("node", name)
		d, err := New(cfg)
		if err != nil {
			t.Fatalf("New(%s): %v", name, err)
		}
		t.Cleanup(func() { _ = d.Shutdown() })
		return d
	}
	var nodes []*DB
	for i := range 3 {
		nodes = append(nodes, start(fmt.Sprintf("mngsp-real%d", i), keys))
	}
	self := func(d *DB) string {
		for _, m := range d.Members() {
			if m.Name == d.LocalName() {
				return m.Addr.String()
			}
		}
		t.Fatal("no own address")
		return ""
	}
	seed := self(nodes[0])
	if !bytes.HasPrefix([]byte(seed), []byte("127.0.0.1:")) || seed == "127.0.0.1:7946" {
		t.Fatalf("not bound to a random loopback port: %s", seed)
	}
	for _, d := range nodes[1:] {
		if _, err := d.Join([]string{seed}); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range nodes {
		mustOK(t, d.JoinNetwork("blue"))
	}
	mustOK(t, nodes[2].Put("blue", "ep", "10.1.0.3", []byte("node2")))
	converged := func(key, want string) {
		t.Helper()
		waitFor(t, 15*time.Second, func() error {
			for _, d := range nodes {
				if v, _ := lookupValue(d, "blue", "ep", key, nodes[2].LocalName()); v != want {
					return fmt.Errorf("%s sees %q", d.LocalName(), v)
				}
			}
			return nil
		})
	}
	converged("10.1.0.3", "node2")

	// Rotate: install everywhere, then use everywhere, then remove the old.
	newKey := bytes.Repeat([]byte{4}, 32)
	for _, d := range nodes {
		mustOK(t, d.Keyring().AddKey(newKey))
	}
	for _, d := range nodes {
		mustOK(t, d.Keyring().UseKey(newKey))
	}
	for _, d := range nodes {
		mustOK(t, d.Keyring().RemoveKey(keys[0]))
	}
	mustOK(t, nodes[2].Put("blue", "ep", "10.1.0.3", []byte("rotated")))
	converged("10.1.0.3", "rotated")

	s := nodes[0].Stats()
	if s.Transport.PacketsSent == 0 || s.Transport.StreamBytesReceived == 0 || s.Received["table-events"].Messages == 0 {
		t.Errorf("traffic not counted: %+v", s)
	}
	t.Logf("node 0 sent %d bytes, received %d (all memberlist traffic)", s.Transport.BytesSent(), s.Transport.BytesReceived())

	stranger := start("mngsp-stranger", [][]byte{bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{8}, 32), bytes.Repeat([]byte{9}, 32)})
	if _, err := stranger.Join([]string{seed}); err == nil {
		t.Error("a node with the wrong gossip key joined")
	}
	if got := len(nodes[0].NetworkMembers(ClusterScope)); got != 3 {
		t.Errorf("cluster has %d live members after the stranger tried, want 3", got)
	}

	// Every goroutine stops with its DB (memberlist's probes in flight
	// finish within their timeout).
	mustOK(t, nodes[0].Leave(time.Second))
	for _, d := range append(nodes[1:], stranger) {
		mustOK(t, d.Shutdown())
	}
	waitFor(t, 10*time.Second, func() error {
		if n := runtime.NumGoroutine(); n > baseline {
			return fmt.Errorf("%d goroutines, %d before the test", n, baseline)
		}
		return nil
	})
}
