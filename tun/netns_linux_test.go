package tun

// Network namespaces for root tests. Each test gets its own namespace named
// mntun-<random>, deleted on cleanup. Work that must happen inside it
// (creating devices and sockets, starting child processes) runs through
// testNS.do on an OS thread that has entered the namespace; what it creates
// stays bound to the namespace when used from other goroutines later.

import (
	"fmt"
	"math/rand/v2"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"meshnet.dev/meshnet/internal/testenv"
)

type testNS struct {
	name  string
	h     netns.NsHandle
	links *Netlink // bound to the namespace
}

func newTestNS(t testing.TB) *testNS {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "ip")
	name := fmt.Sprintf("mntun-%08x", rand.Uint32())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	h, err := netns.GetFromName(name)
	if err != nil {
		t.Fatalf("open namespace %s: %v", name, err)
	}
	t.Cleanup(func() { h.Close() })
	links, err := NewNetlinkAt(h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(links.Close)
	ns := &testNS{name: name, h: h, links: links}
	ns.do(t, func() { ns.ip(t, "link", "set", "lo", "up") })
	return ns
}

// do runs fn on a locked OS thread inside the namespace.
func (ns *testNS) do(t testing.TB, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("current namespace: %v", err)
	}
	defer orig.Close()
	if err := netns.Set(ns.h); err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("enter namespace %s: %v", ns.name, err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			// Leave the thread locked: the runtime discards it when this
			// goroutine ends instead of reusing a thread in the wrong place.
			t.Errorf("leave namespace %s: %v", ns.name, err)
			return
		}
		runtime.UnlockOSThread()
	}()
	fn()
}

// ip runs the ip tool; call it inside do.
func (ns *testNS) ip(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// ping pings addr from inside the namespace until one reply comes back or
// ten seconds pass, and reports whether a reply came and ping's output.
func (ns *testNS) ping(t *testing.T, addr string) (bool, string) {
	t.Helper()
	testenv.RequireTools(t, "ping")
	var out []byte
	var err error
	ns.do(t, func() { out, err = exec.Command("ping", "-n", "-c", "1", "-w", "10", addr).CombinedOutput() })
	return err == nil, string(out)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
