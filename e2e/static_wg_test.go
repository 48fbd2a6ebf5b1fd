package e2e

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"meshnet.dev/meshnet/e2e/netlab"
	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/internal/testenv"
	"meshnet.dev/meshnet/node/api"
	"meshnet.dev/meshnet/node/config"
)

// wireguardGoEnv names the wireguard-go binary; `make test` sets it to the
// one it installs in bin/.
const wireguardGoEnv = "MESHNET_WIREGUARD_GO"

// wireguardGo finds wireguard-go: $MESHNET_WIREGUARD_GO, else bin/wireguard
// at the repository's root, where `make test` and `make bench` put it.
func wireguardGo(t *testing.T) string {
	t.Helper()
	path := os.Getenv(wireguardGoEnv)
	if path == "" {
		path = filepath.Join("..", "bin", "wireguard")
	}
	abs, err := filepath.Abs(path)
	if err == nil {
		_, err = os.Stat(abs)
	}
	if err != nil {
		testenv.Unavailable(t, fmt.Sprintf("no wireguard-go (%v): run `make deps-wggo` or set %s", err, wireguardGoEnv))
	}
	return abs
}

// staticRouter is the foreign host: keys made on it with wg(8), its files
// and the name of its WireGuard interface.
type staticRouter struct {
	host          *netlab.Host
	key, psk, pub string // key and psk are files on the host
	iface         string
}

// newStaticRouter makes the foreign host's key pair and preshared key the
// way its administrator would.
func newStaticRouter(t *testing.T, h *netlab.Host, iface string) *staticRouter {
	t.Helper()
	r := &staticRouter{host: h, key: filepath.Join(h.Dir, "router.key"), psk: filepath.Join(h.Dir, "router.psk"), iface: iface}
	if _, err := h.Run("sh", "-c", fmt.Sprintf("umask 077; wg genkey > %s; wg genpsk > %s", r.key, r.psk)); err != nil {
		t.Fatal(err)
	}
	pub, err := h.Run("sh", "-c", "wg pubkey < "+r.key)
	if err != nil {
		t.Fatal(err)
	}
	r.pub = strings.TrimSpace(pub)
	// Stop its WireGuard when the test ends: deleting the interface makes
	// wireguard-go exit, and with it the namespace can go.
	t.Cleanup(func() {
		h.Run("ip", "link", "del", iface)
		sock := "/var/run/wireguard/" + iface + ".sock"
		if err := netlab.Poll(5*time.Second, 50*time.Millisecond, func() error {
			if _, err := os.Stat(sock); err == nil {
				return errors.New("wireguard-go still runs")
			}
			return nil
		}); err != nil {
			t.Logf("%s: %v; stopping it", iface, err)
			stopNamespaceProcs(t, h, "wireguard")
			os.Remove(sock)
		}
	})
	return r
}

// stopNamespaceProcs kills the processes in h's namespace whose command
// is base, which this test started there.
func stopNamespaceProcs(t *testing.T, h *netlab.Host, base string) {
	out, _ := h.Run("ip", "netns", "pids", h.NS)
	for _, f := range strings.Fields(out) {
		var pid int
		if _, err := fmt.Sscan(f, &pid); err != nil {
			continue
		}
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && filepath.Base(exe) == base {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// withPeer rewrites m's config with peers and makes the daemon reload it.
func withPeer(t *testing.T, m *netlab.Meshnet, peers []config.PeerConfig) {
	t.Helper()
	c, err := config.LoadConfig(m.Config)
	if err != nil {
		t.Fatal(err)
	}
	c.Peers = peers
	writeConfig(t, m.Config, c)
	if err := m.Proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

// staticPeer returns peer name as m lists it, or nil.
func staticPeer(t *testing.T, m *netlab.Meshnet, name string) *api.Peer {
	t.Helper()
	out, err := m.CLI("peers", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var peers []api.Peer
	if err := json.Unmarshal([]byte(out), &peers); err != nil {
		t.Fatal(err)
	}
	for _, p := range peers {
		if p.Name == name {
			return &p
		}
	}
	return nil
}

// reaches reports whether one ping from h to ip is answered within a
// second.
func reaches(h *netlab.Host, ip string) bool {
	_, err := h.Run("ping", "-c", "1", "-W", "1", ip)
	return err == nil
}

// TestStaticWireGuardPeer: a host that does not run meshnet, made of
// wireguard-go, wg(8) and a kernel vxlan device and configured with
// exactly the commands `meshnet peer config` prints, joins an encrypted
// network of two meshnet nodes. Only one node's config lists it; both
// reach it. Pings and TCP transfers cross both ways with each node, the
// underlay carries only WireGuard, and removing the entry with a reload
// cuts the host off everywhere without restarting the daemon.
func TestStaticWireGuardPeer(t *testing.T) {
	testenvTools(t, "wg", "bridge", "tcpdump", "sh")
	wggo := wireguardGo(t)
	lab, hosts := newLab(t, 3)
	_, ms, ips := encryptedOn(t, hosts[:2], clusterOpts{})
	router := newStaticRouter(t, hosts[2], "wgs"+lab.Prefix[len(lab.Prefix)-6:])
	const routerIP = "10.10.0.200" // a multiple of 4: never an IPAM address

	// The peer goes into h1's config (with the same preshared key, in a
	// file of h1's) and h1 reloads.
	meshPSK := filepath.Join(hosts[0].Dir, "router.psk")
	psk, err := os.ReadFile(router.psk)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(meshPSK, psk, 0o600); err != nil {
		t.Fatal(err)
	}
	entry := config.PeerConfig{Name: "router", PublicKey: router.pub, Endpoint: router.host.Addr.String() + ":51820",
		PresharedKeyFile: meshPSK, Endpoints: []config.EndpointConfig{{Network: "red", IP: routerIP}}}
	withPeer(t, ms[0], []config.PeerConfig{entry})
	for _, m := range ms {
		if err := netlab.Poll(20*time.Second, 50*time.Millisecond, func() error {
			if p := staticPeer(t, m, "router"); p == nil || p.PSKKind != "fixed" || len(p.Sponsors) != 1 || p.Sponsors[0] != "h1" {
				return fmt.Errorf("%s lists the static peer as %+v", m.Host.Name, p)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}

	waitEndpoints(t, ms, "red", 3) // both nodes and the router's

	// h2, whose config does not list the peer, prints its setup; the
	// router runs exactly that.
	script, err := ms[1].CLI("peer", "config", "router", "--interface", router.iface, "--private-key", router.key,
		"--preshared-key", router.psk, "--wireguard-go", wggo)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("meshnet peer config router:\n%s", script)
	for _, secret := range []string{strings.TrimSpace(string(psk))} {
		if strings.Contains(script, secret) {
			t.Fatal("the printed setup contains the preshared key")
		}
	}
	path := filepath.Join(router.host.Dir, "setup.sh")
	if err := os.WriteFile(path, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := router.host.Run("sh", "-e", path); err != nil {
		t.Fatalf("running the printed setup: %v\n%s", err, out)
	}

	capture, err := router.host.StartCapture("underlay", "eth0", "host", router.host.Addr.String())
	if err != nil {
		t.Fatal(err)
	}
	for i, ip := range ips {
		start := time.Now()
		if err := netlab.Poll(20*time.Second, 100*time.Millisecond, func() error {
			if !reaches(router.host, ip) {
				return fmt.Errorf("router does not reach %s yet", ip)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		t.Logf("router reaches h%d (%s) %.1fs after its setup", i+1, ip, time.Since(start).Seconds())
	}
	const pattern = "c0ffee15deadbeef"
	for i, h := range hosts[:2] {
		out := ping(t, router.host, mustAddr(ips[i]), 10)
		t.Logf("router → %s: %s", h.Name, lastLine(out))
		if out, err := h.Run("ping", "-c", "10", "-i", "0.05", "-W", "2", "-p", pattern, routerIP); err != nil {
			t.Fatalf("%s → router: %v\n%s", h.Name, err, out)
		} else {
			t.Logf("%s → router: %s", h.Name, lastLine(out))
		}
	}
	for i, h := range hosts[:2] {
		for _, dir := range []struct {
			from, to *netlab.Host
			addr     string
		}{{router.host, h, ips[i]}, {h, router.host, routerIP}} {
			sent, got := transfer(t, dir.from, dir.to, dir.addr, 20<<20)
			if sent.SHA256 != got.SHA256 || sent.Bytes != got.Bytes {
				t.Fatalf("%s→%s: transfer corrupted", dir.from.Name, dir.to.Name)
			}
			t.Logf("%s→%s: 20 MiB at %.0f Mbit/s", dir.from.Name, dir.to.Name, sent.Mbps)
		}
	}
	checkOnlyWireGuard(t, capture, pattern)

	// Removing the entry from h1's config cuts the router off on both
	// nodes, without a restart. The router pings both nodes all along;
	// the last answer says when the cut took effect.
	pingers := make([]*pinger, len(ips))
	for i, ip := range ips {
		pingers[i] = startPinger(t, router.host, ip)
	}
	pid := ms[0].Proc.Cmd.Process.Pid
	start := time.Now()
	withPeer(t, ms[0], nil)
	for _, m := range ms {
		if err := netlab.Poll(10*time.Second, 20*time.Millisecond, func() error {
			if out, _ := m.Host.Run("wg", "show", "wg-"+m.Host.Name, "peers"); strings.Contains(out, router.pub) {
				return fmt.Errorf("%s's WireGuard still has the router", m.Host.Name)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s dropped the router from WireGuard %.2fs after SIGHUP", m.Host.Name, time.Since(start).Seconds())
	}
	for i, p := range pingers {
		last := p.silentFor(t, time.Second, 10*time.Second)
		t.Logf("router's pings to h%d (every 50 ms): last answer at %+.2fs from SIGHUP, none for a second since", i+1, last.Sub(start).Seconds())
	}
	for i, m := range ms {
		if p := staticPeer(t, m, "router"); p != nil {
			t.Fatalf("%s still lists the router: %+v", m.Host.Name, p)
		}
		pingFails(t, hosts[i], mustAddr(routerIP))
	}
	waitEndpoints(t, ms, "red", 2)
	if ms[0].Proc.Exited() || ms[0].Proc.Cmd.Process.Pid != pid {
		t.Fatal("h1's daemon restarted")
	}
}

// pinger is ping running in the background with a timestamp on every
// answer.
type pinger struct {
	proc *netlab.Proc
}

func startPinger(t *testing.T, h *netlab.Host, ip string) *pinger {
	t.Helper()
	p, err := h.Start("ping-"+ip, "ping", "-D", "-n", "-i", "0.05", ip)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	pg := &pinger{proc: p}
	if err := netlab.Poll(5*time.Second, 20*time.Millisecond, func() error {
		if pg.lastAnswer().IsZero() {
			return fmt.Errorf("no answer to %s yet", ip)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return pg
}

// lastAnswer is when the latest answer arrived (zero if none has).
func (p *pinger) lastAnswer() time.Time {
	var last time.Time
	for _, l := range strings.Split(p.proc.Output(), "\n") {
		var sec float64
		if strings.Contains(l, " bytes from ") {
			if _, err := fmt.Sscanf(l, "[%f]", &sec); err == nil {
				last = time.Unix(0, int64(sec*1e9))
			}
		}
	}
	return last
}

// silentFor waits until no answer has come for quiet, for at most
// timeout, and returns the last answer's time.
func (p *pinger) silentFor(t *testing.T, quiet, timeout time.Duration) time.Time {
	t.Helper()
	var last time.Time
	if err := netlab.Poll(timeout, 50*time.Millisecond, func() error {
		last = p.lastAnswer()
		if since := time.Since(last); since < quiet {
			return fmt.Errorf("answered %v ago", since)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return last
}

// checkOnlyWireGuard stops the capture and checks that every UDP datagram
// of the router on the underlay was WireGuard, none VXLAN, and that the
// pings' payload pattern appears nowhere.
func checkOnlyWireGuard(t *testing.T, c *netlab.Capture, pattern string) {
	t.Helper()
	raw, _ := hex.DecodeString(pattern)
	frames := stopNoPlaintext(t, c, raw)
	wg := 0
	for _, f := range frames {
		src, dst, _, ok := netlab.UDPPorts(f)
		switch {
		case !ok:
		case src != encap.DefaultWireGuardPort && dst != encap.DefaultWireGuardPort:
			t.Fatalf("UDP %d→%d on the underlay, not WireGuard", src, dst)
		default:
			wg++
		}
	}
	if wg < 40 {
		t.Fatalf("only %d WireGuard datagrams captured", wg)
	}
	t.Logf("%d frames captured on the router's underlay, %d of them WireGuard, no plaintext", len(frames), wg)
}

// lastLine is ping's summary: its last two lines (loss, round trips).
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return strings.Join(lines[max(0, len(lines)-2):], "; ")
}
