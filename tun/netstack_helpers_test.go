package tun

import (
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"meshnet.dev/meshnet/internal/packet"
)

// A pair of netstack hosts on one overlay subnet, cabled back to back.
var (
	nsMAC1   = packet.MAC{0x02, 0, 0, 0, 0x0a, 0x01}
	nsMAC2   = packet.MAC{0x02, 0, 0, 0, 0x0a, 0x02}
	nsAddr1  = netip.MustParsePrefix("10.1.0.1/24")
	nsAddr2  = netip.MustParsePrefix("10.1.0.2/24")
	nsAddr16 = netip.MustParsePrefix("fd00::1/64")
	nsAddr26 = netip.MustParsePrefix("fd00::2/64")
)

// nsNeighbors is what both hosts' neighbour tables hold.
func nsNeighbors() mapNeighbors {
	return mapNeighbors{
		nsAddr1.Addr():  nsMAC1,
		nsAddr16.Addr(): nsMAC1,
		nsAddr2.Addr():  nsMAC2,
		nsAddr26.Addr(): nsMAC2,
	}
}

func newTestNetstack(t testing.TB, mac packet.MAC, addrs ...netip.Prefix) *Netstack {
	t.Helper()
	d, err := NewNetstack(NetstackConfig{Name: "ns-test", MAC: mac, Addresses: addrs}, nsNeighbors())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// netstackPair returns two cabled netstack devices; cleanup closes them and
// checks that no goroutine outlives them.
func netstackPair(t testing.TB) (*Netstack, *Netstack) {
	t.Helper()
	checkGoroutines(t)
	a := newTestNetstack(t, nsMAC1, nsAddr1, nsAddr16)
	b := newTestNetstack(t, nsMAC2, nsAddr2, nsAddr26)
	w := NewWire(a, b)
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Error(err)
		}
	})
	return a, b
}

// checkGoroutines registers a cleanup (run after those registered later)
// that waits for the goroutine count to fall back to what it is now.
func checkGoroutines(t testing.TB) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Fatalf("%d goroutines leaked:\n%s", runtime.NumGoroutine()-before, trimStacks(string(buf)))
			}
			time.Sleep(10 * time.Millisecond) // polling, not waiting for an event
		}
	})
}

// trimStacks keeps the first 40 lines of a goroutine dump.
func trimStacks(s string) string {
	lines := strings.Split(s, "\n")
	if len(lines) > 40 {
		lines = lines[:40]
	}
	return strings.Join(lines, "\n")
}
