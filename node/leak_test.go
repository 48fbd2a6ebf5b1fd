package node

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"meshnet.dev/meshnet/node/config"
)

// Every goroutine a node starts stops with it: two nodes that formed a
// cluster and attached a network leave none behind once Run has returned.
// Goroutines that existed before the nodes started are not counted, so
// other tests' leftovers cannot fail this one; a goroutine counts as the
// node's when its stack names a meshnet package, memberlist or WireGuard.
func TestRunLeavesNoGoroutines(t *testing.T) {
	before := goroutineIDs()
	c := newFakeCluster(t, 2)
	c.converged()
	for _, h := range c.hosts {
		h.cancel()
		<-h.done
	}
	noneLeft(t, before)
}

// The same for a whole daemon in userspace mode, as `meshnet demo` runs
// it: state lock, control socket, metrics, WireGuard and gossip on
// loopback, a userspace stack with its DNS, proxies and health checks.
func TestUserspaceRunLeavesNoGoroutines(t *testing.T) {
	before := goroutineIDs()
	ports := freePorts(t, 4)
	cfg := config.DefaultConfig()
	cfg.Name, cfg.StateDir, cfg.Userspace = "leak1", t.TempDir(), true
	cfg.Underlay.Address = "127.0.0.1"
	cfg.Underlay.VXLANPort, cfg.WireGuard.Port, cfg.Gossip.Port = ports[0], ports[1], ports[2]
	cfg.Proxy.SOCKS5, cfg.Proxy.HTTP = fmt.Sprintf("127.0.0.1:%d", ports[3]), ""
	cfg.Metrics.Address = "127.0.0.1:0"
	cfg.Gossip.Interval = 50 * time.Millisecond
	cfg.DNS.Forward = new(bool)
	cfg.Networks = []config.NetworkConfig{{Name: "leak", Subnet: "10.98.0.0/24"}}
	n, err := New(cfg, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	poll(t, 20*time.Second, "the node's address on network leak", func() bool {
		st := n.Status()
		return len(st.Networks) == 1 && st.Networks[0].Address != ""
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	noneLeft(t, before)
}

// freePorts finds k ports free for both TCP and UDP on loopback.
func freePorts(t *testing.T, k int) []int {
	t.Helper()
	var out []int
	for len(out) < k {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p))
		l.Close()
		if err == nil {
			u.Close()
			out = append(out, p)
		}
	}
	return out
}

// noneLeft waits until no goroutine of the node's code remains that was
// not running before, and fails naming those that stay.
func noneLeft(t *testing.T, before map[int]bool) {
	t.Helper()
	var left []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		left = left[:0]
		for id, stack := range goroutines() {
			if !before[id] && ownedByNode(stack) {
				left = append(left, stack)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left after the node stopped:\n\n%s", len(left), strings.Join(left, "\n\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var goroutineHeader = regexp.MustCompile(`^goroutine (\d+) `)

// goroutines returns the stack of every goroutine by its id.
func goroutines() map[int]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[int]string{}
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if m := goroutineHeader.FindSubmatch(g); m != nil {
			id, _ := strconv.Atoi(string(m[1]))
			out[id] = string(g)
		}
	}
	return out
}

func goroutineIDs() map[int]bool {
	ids := map[int]bool{}
	for id := range goroutines() {
		ids[id] = true
	}
	return ids
}

// ownedByNode reports whether a goroutine runs code of the daemon: a
// meshnet package, memberlist or WireGuard.
func ownedByNode(stack string) bool {
	return strings.Contains(stack, "meshnet.dev/meshnet/") || strings.Contains(stack, "hashicorp/memberlist") ||
		strings.Contains(stack, "golang.zx2c4.com/wireguard")
}
