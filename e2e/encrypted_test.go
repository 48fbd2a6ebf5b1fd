package e2e

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"meshnet.dev/meshnet/internal/netlab"
)

// dumpWG logs what WireGuard and meshnet think of their peers, for failures.
func dumpWG(t *testing.T, ms []*netlab.Meshnet) {
	t.Helper()
	for _, m := range ms {
		if m == nil {
			continue
		}
		out, _ := m.Host.Run("wg", "show", "wg-"+m.Host.Name)
		t.Logf("--- %s: wg show ---\n%s", m.Host.Name, out)
		st, _ := m.CLI("status", "--json")
		t.Logf("--- %s: status ---\n%s", m.Host.Name, st)
	}
}

// encryptedPair starts two hosts on encrypted network red and returns them
// with their overlay addresses.
func encryptedPair(t *testing.T, n int, o clusterOpts) ([]*netlab.Host, []*netlab.Meshnet, []string) {
	t.Helper()
	_, hosts := newLab(t, n)
	nets := make([][]string, n)
	for i := range nets {
		nets[i] = []string{"red"}
	}
	o.encrypted = true
	ms := startCluster(t, hosts, nets, o)
	addrs := waitAttached(t, ms, nets)
	waitEndpoints(t, ms, "red", n)
	ips := make([]string, n)
	for i, h := range hosts {
		ips[i] = addrs[h.Name]["red"].String()
	}
	return hosts, ms, ips
}

func TestEncryptedPing(t *testing.T) {
	for _, mode := range []string{"tap", "tun"} {
		t.Run(mode, func(t *testing.T) {
			hosts, _, ips := encryptedPair(t, 2, clusterOpts{mode: mode})
			ping(t, hosts[0], mustAddr(ips[1]), 3)
			ping(t, hosts[1], mustAddr(ips[0]), 3)
		})
	}
}

// TestCaptureShowsNoPlaintext pings with a known payload pattern while
// capturing on the underlay: the pattern never appears, and no plaintext
// VXLAN crosses the wire for the encrypted network.
func TestCaptureShowsNoPlaintext(t *testing.T) {
	testenvTools(t, "tcpdump")
	hosts, _, ips := encryptedPair(t, 2, clusterOpts{})
	const pattern = "c0ffee15deadbeef"
	pcap := filepath.Join(hosts[1].Dir, "underlay.pcap")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	dump := hosts[1].Command(ctx, "tcpdump", "-i", "eth0", "-U", "-w", pcap, "-s", "0")
	if err := dump.Start(); err != nil {
		t.Fatal(err)
	}
	// tcpdump takes a moment to open the interface; the pings span it.
	err := netlab.Poll(10*time.Second, 100*time.Millisecond, func() error {
		if fi, err := os.Stat(pcap); err != nil || fi.Size() == 0 {
			return fmt.Errorf("capture not started")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := hosts[0].Run("ping", "-c", "20", "-i", "0.05", "-W", "2", "-p", pattern, ips[1]); err != nil {
		t.Fatalf("ping with pattern: %v\n%s", err, out)
	}
	dump.Process.Signal(os.Interrupt)
	dump.Wait()
	data, err := os.ReadFile(pcap)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := hex.DecodeString(pattern)
	if bytes.Contains(data, raw) {
		t.Fatal("the ping payload pattern appears in the underlay capture")
	}
	out, err := hosts[1].Run("tcpdump", "-r", pcap, "-n", "udp port 4789")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "UDP") || strings.Contains(out, "VXLAN") {
		t.Fatalf("plaintext VXLAN on the underlay:\n%s", out)
	}
	wg, err := hosts[1].Run("tcpdump", "-r", pcap, "-n", "udp port 51820")
	if err != nil || strings.Count(wg, "\n") < 20 {
		t.Fatalf("expected WireGuard traffic in the capture: %v\n%s", err, wg)
	}
}

func TestWGShowListsPeersWithHandshakes(t *testing.T) {
	hosts, ms, ips := encryptedPair(t, 3, clusterOpts{})
	ping(t, hosts[0], mustAddr(ips[1]), 1)
	ping(t, hosts[0], mustAddr(ips[2]), 1)
	out, err := hosts[0].Run("wg", "show", "wg-"+hosts[0].Name)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(out, "peer: ") != 2 || strings.Count(out, "latest handshake") != 2 {
		t.Fatalf("wg show does not list two peers with handshakes:\n%s", out)
	}
	peers, err := ms[0].CLI("peers", "--json")
	if err != nil || !strings.Contains(peers, "last_handshake") {
		t.Fatalf("meshnet peers shows no handshakes: %v\n%s", err, peers)
	}
}

func TestPlaintextInjectionDropped(t *testing.T) {
	hosts, ms, _ := encryptedPair(t, 2, clusterOpts{})
	st, err := ms[1].Status()
	if err != nil {
		t.Fatal(err)
	}
	vni := st.Networks[0].VNI
	if _, err := hosts[0].Run(bin.xfer, "inject", "-to", hosts[1].Addr.String()+":4789", "-vni", fmt.Sprint(vni), "-count", "50"); err != nil {
		t.Fatal(err)
	}
	err = netlab.Poll(10*time.Second, 50*time.Millisecond, func() error {
		st, err := ms[1].Status()
		if err != nil {
			return err
		}
		if got := st.Networks[0].Counters.Drops["plaintext_on_encrypted"]; got < 50 {
			return fmt.Errorf("plaintext drops = %d, want 50", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
