package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"meshnet.dev/meshnet/node/api"
)

// TestSIGTERMWithoutUnderlayIsPrompt cuts the underlay of three encrypted
// nodes (their bridge goes, as when a laptop's lid closes or a VM loses its
// network), then stops them all with SIGTERM: each exits within the leave
// budget it was configured with (gossip.leave_timeout) plus teardown, and
// leaves no device, control socket or WireGuard socket behind.
func TestSIGTERMWithoutUnderlayIsPrompt(t *testing.T) {
	const budget = 2 * time.Second
	const within = budget + 2*time.Second // and teardown
	lab, hosts := newLab(t, 3)
	_, ms, _ := encryptedOn(t, hosts, clusterOpts{leave: budget})
	if out, err := hosts[0].Run("ip", "-n", lab.Underlay(), "link", "del", "br0"); err != nil {
		t.Fatalf("removing the underlay bridge: %v\n%s", err, out)
	}
	var wg sync.WaitGroup
	took := make([]time.Duration, len(ms))
	errs := make([]error, len(ms))
	for i, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			m.Proc.Signal(syscall.SIGTERM)
			errs[i] = m.Proc.Wait(within)
			took[i] = time.Since(start)
		}()
	}
	wg.Wait()
	for i, m := range ms {
		t.Logf("%s exited %s after SIGTERM", m.Host.Name, took[i].Round(time.Millisecond))
		if errs[i] != nil {
			t.Errorf("%s: %v\n%s", m.Host.Name, errs[i], m.Proc.Output())
			continue
		}
		deviceGone(t, m.Host, "mn-red")
		if _, err := os.Stat(filepath.Join(m.StateDir, api.SocketName)); !os.IsNotExist(err) {
			t.Errorf("%s: control socket left behind: %v", m.Host.Name, err)
		}
		if _, err := os.Stat(fmt.Sprintf("/run/wireguard/wg-%s.sock", m.Host.Name)); !os.IsNotExist(err) {
			t.Errorf("%s: WireGuard socket left behind: %v", m.Host.Name, err)
		}
	}
}
