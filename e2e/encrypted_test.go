package e2e

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"meshnet.dev/meshnet/e2e/netlab"
	"meshnet.dev/meshnet/encap"
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
	return encryptedOn(t, hosts, o)
}

// encryptedOn is encryptedPair on hosts of a lab the caller made.
func encryptedOn(t *testing.T, hosts []*netlab.Host, o clusterOpts) ([]*netlab.Host, []*netlab.Meshnet, []string) {
	t.Helper()
	n := len(hosts)
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
// capturing on the underlay: WireGuard carries every ping, the pattern
// appears in no byte of the capture, and no plaintext VXLAN crosses the
// wire for the encrypted network.
func TestCaptureShowsNoPlaintext(t *testing.T) {
	testenvTools(t, "tcpdump")
	hosts, _, ips := encryptedPair(t, 2, clusterOpts{})
	const pattern, pings = "c0ffee15deadbeef", 20
	capture, err := hosts[1].StartCapture("underlay", "eth0")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := hosts[0].Run("ping", "-c", fmt.Sprint(pings), "-i", "0.05", "-W", "2", "-p", pattern, ips[1]); err != nil {
		t.Fatalf("ping with pattern: %v\n%s", err, out)
	}
	// Each echo and its reply cross eth0 inside WireGuard; wait until the
	// capture holds them all before stopping it.
	if err := capture.WaitFrames(10*time.Second, 2*pings, netlab.UDPPort(encap.DefaultWireGuardPort)); err != nil {
		t.Fatalf("WireGuard traffic in the capture: %v", err)
	}
	raw, _ := hex.DecodeString(pattern)
	frames := stopNoPlaintext(t, capture, raw)
	t.Logf("%d frames captured, none in plaintext", len(frames))
}

// stopNoPlaintext stops the underlay capture c and fails the test if
// payload appears anywhere in it or any frame is plaintext VXLAN; it
// returns the captured frames.
func stopNoPlaintext(t *testing.T, c *netlab.Capture, payload []byte) [][]byte {
	t.Helper()
	data, err := c.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, payload) {
		t.Fatal("the ping payload appears in the underlay capture")
	}
	frames, err := netlab.ReadPcap(data)
	if err != nil {
		t.Fatal(err)
	}
	vxlan := netlab.UDPPort(encap.Port)
	for _, f := range frames {
		if vxlan(f) {
			t.Fatalf("plaintext VXLAN on the underlay: % x", f)
		}
	}
	return frames
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
