package tun

import (
	"runtime"
	"testing"
)

// TestDevicesStartNoGoroutines holds the kernel devices to "nothing to stop
// on Close": no goroutine is started on open (the TUN's event monitor
// included), so none can leak.
func TestDevicesStartNoGoroutines(t *testing.T) {
	ns := newTestNS(t)
	before := runtime.NumGoroutine()
	var devs []Device
	ns.do(t, func() {
		tap, err := CreateTAP(DefaultTAPConfig("mntap0"))
		if err != nil {
			t.Fatal(err)
		}
		dev, err := CreateTUN(DefaultTUNConfig("mntun0", tunMAC), tunNeighbs)
		if err != nil {
			tap.Close()
			t.Fatal(err)
		}
		devs = append(devs, tap, dev)
	})
	after := runtime.NumGoroutine()
	for _, d := range devs {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	}
	if after > before {
		t.Fatalf("opening a TAP and a TUN started %d goroutines", after-before)
	}
}
