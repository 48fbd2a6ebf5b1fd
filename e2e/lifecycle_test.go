package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"meshnet.dev/meshnet/e2e/netlab"
	"meshnet.dev/meshnet/node/api"
	"meshnet.dev/meshnet/node/config"
)

// deviceGone polls until the host has no interface called name.
func deviceGone(t *testing.T, h *netlab.Host, name string) {
	t.Helper()
	err := netlab.Poll(10*time.Second, 20*time.Millisecond, func() error {
		if _, err := h.Run("ip", "link", "show", name); err == nil {
			return os.ErrExist
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: device %s still present: %v", h.Name, name, err)
	}
}

func TestSIGKILLLeavesNoDevice(t *testing.T) {
	for _, mode := range []string{"tap", "tun"} {
		t.Run(mode, func(t *testing.T) {
			_, hosts := newLab(t, 2)
			ms := startAll(t, hosts, staticConfigs(hosts, mode))
			if _, err := hosts[0].Run("ip", "link", "show", "mn-blue"); err != nil {
				t.Fatal(err)
			}
			ms[0].Proc.Signal(syscall.SIGKILL)
			ms[0].Proc.Wait(10 * time.Second)
			deviceGone(t, hosts[0], "mn-blue")
			// A restart after a crash cleans up the stale socket and works.
			if err := ms[0].Start(); err != nil {
				t.Fatal(err)
			}
			if _, err := ms[0].WaitNetworks(20*time.Second, "blue"); err != nil {
				t.Fatal(err)
			}
			ping(t, hosts[0], overlayIP(1), 2)
		})
	}
}

func TestSIGTERMCleansUp(t *testing.T) {
	_, hosts := newLab(t, 2)
	ms := startAll(t, hosts, staticConfigs(hosts, "tap"))
	ping(t, hosts[0], overlayIP(1), 1)
	ms[0].Proc.Signal(syscall.SIGTERM)
	if err := ms[0].Proc.Wait(10 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, ms[0].Proc.Output())
	}
	deviceGone(t, hosts[0], "mn-blue")
	if routes, _ := hosts[0].Run("ip", "route", "show", "10.42.0.0/24"); strings.TrimSpace(routes) != "" {
		t.Fatalf("route left behind: %s", routes)
	}
	if _, err := os.Stat(filepath.Join(ms[0].StateDir, api.SocketName)); !os.IsNotExist(err) {
		t.Fatalf("control socket left behind: %v", err)
	}
	if out, _ := hosts[0].Run("ss", "-uanp"); strings.Contains(out, ":4789") {
		t.Fatalf("UDP socket left behind:\n%s", out)
	}
}

func TestStatusJSONShowsPeersAndCounters(t *testing.T) {
	_, hosts := newLab(t, 3)
	ms := startAll(t, hosts, staticConfigs(hosts, "tap"))
	ping(t, hosts[0], overlayIP(1), 3)
	ping(t, hosts[0], overlayIP(2), 3)
	out, err := ms[0].CLI("status", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var st api.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json is not JSON: %v\n%s", err, out)
	}
	if len(st.Peers) != 2 || len(st.Networks) != 1 {
		t.Fatalf("status shows %d peers, %d networks", len(st.Peers), len(st.Networks))
	}
	c := st.Networks[0].Counters
	if c.TxPackets < 6 || c.RxPackets < 6 || c.TxBytes == 0 || c.RxBytes == 0 || c.ARPReplies == 0 {
		t.Fatalf("counters after 6 pings: %+v", c)
	}
	for _, p := range st.Peers {
		if p.TxPackets == 0 || p.RxPackets == 0 {
			t.Fatalf("peer %s has zero counters: %+v", p.Name, p)
		}
	}
	table, err := ms[0].CLI("status")
	if err != nil || !strings.Contains(table, "PEER") || !strings.Contains(table, "h2") {
		t.Fatalf("status table: %v\n%s", err, table)
	}
}

func TestSecondDaemonGetsClearError(t *testing.T) {
	_, hosts := newLab(t, 1)
	cfgs := staticConfigs(hosts, "tap")
	first, err := hosts[0].StartMeshnet(bin.meshnet, cfgs[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.WaitNetworks(20*time.Second, "blue"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, stateDir, device string
		port, wg, gossip       int
		wants                  string
	}{
		{"same state dir", first.StateDir, "mn-blue2", 4790, 51821, 7947, "another meshnet daemon"},
		{"same port", filepath.Join(hosts[0].Dir, "s1"), "mn-blue2", 4789, 51821, 7947, "VXLAN port 4789"},
		{"same wireguard port", filepath.Join(hosts[0].Dir, "s2"), "mn-blue2", 4790, 51820, 7947, "WireGuard port 51820"},
		{"same gossip port", filepath.Join(hosts[0].Dir, "s3"), "mn-blue2", 4790, 51821, 7946, "gossip port 7946"},
		{"same device", filepath.Join(hosts[0].Dir, "s4"), "mn-blue", 4790, 51821, 7947, "mn-blue"},
	}
	for _, tc := range cases {
		c := cfgs[0]
		c.StateDir, c.Underlay.VXLANPort, c.WireGuard.Port, c.Gossip.Port = tc.stateDir, tc.port, tc.wg, tc.gossip
		c.Networks = append([]config.NetworkConfig(nil), c.Networks...)
		c.Networks[0].Device = tc.device
		path := filepath.Join(hosts[0].Dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml")
		writeConfig(t, path, c)
		out, err := hosts[0].Run(bin.meshnet, "up", "-c", path)
		if err == nil {
			t.Fatalf("%s: second daemon started", tc.name)
		}
		if !strings.Contains(out, tc.wants) {
			t.Fatalf("%s: error does not mention %q:\n%s", tc.name, tc.wants, out)
		}
		if tc.stateDir != first.StateDir {
			if _, err := os.Stat(filepath.Join(tc.stateDir, "cluster.state")); err == nil {
				t.Fatalf("%s: the refused daemon left cluster state behind", tc.name)
			}
		}
		t.Logf("%s: %s", tc.name, strings.TrimSpace(out))
	}
	ping(t, hosts[0], overlayIP(0), 1) // the first daemon is unharmed
}

// `meshnet down` returns only once the daemon has let go of its ports and
// devices: an `up -d` right after it starts cleanly, every time.
func TestDownThenUpAtOnce(t *testing.T) {
	_, hosts := newLab(t, 2)
	ms := startAll(t, hosts, staticConfigs(hosts, "tap"))
	h, m := hosts[0], ms[0]
	t.Cleanup(func() { h.Run(bin.meshnet, "down", "--state-dir", m.StateDir) })
	for i := range 3 {
		if out, err := h.Run(bin.meshnet, "down", "--state-dir", m.StateDir); err != nil {
			t.Fatalf("down %d: %v\n%s", i, err, out)
		}
		if out, err := h.Run(bin.meshnet, "up", "-d", "-c", m.Config); err != nil {
			t.Fatalf("up -d right after down (%d): %v\n%s", i, err, out)
		}
		if _, err := m.WaitNetworks(20*time.Second, "blue"); err != nil {
			t.Fatal(err)
		}
	}
	ping(t, h, overlayIP(1), 2)
}
