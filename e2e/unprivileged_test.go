package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"meshnet.dev/meshnet/e2e/netlab"
	"meshnet.dev/meshnet/internal/testenv"
	"meshnet.dev/meshnet/node/config"
	"meshnet.dev/meshnet/tun"
)

const nobody = 65534

// capEff returns the effective capability mask of a process.
func capEff(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatal("no CapEff line")
	return ""
}

// adminWithRed starts h as the admin node on encrypted network red and
// returns it with a join token and its overlay address.
func adminWithRed(t *testing.T, h *netlab.Host) (*netlab.Meshnet, string, string) {
	t.Helper()
	c := config.DefaultConfig()
	c.Name = h.Name
	c.Networks = []config.NetworkConfig{{Name: "red", Subnet: "10.10.0.0/24"}}
	m, err := h.StartMeshnet(bin.meshnet, c)
	if err != nil {
		t.Fatal(err)
	}
	st, err := m.WaitNetworks(30*time.Second, "red")
	if err != nil {
		t.Fatal(err)
	}
	return m, joinToken(t, m), strings.Split(st.Networks[0].Address, "/")[0]
}

// TestNetstackNodeAsNobody runs a node as nobody with no capabilities in
// userspace mode: it reaches a web page on a TAP-mode node through its
// SOCKS5 and HTTP CONNECT proxies, and its --expose makes a local server
// reachable from that node.
func TestNetstackNodeAsNobody(t *testing.T) {
	_, hosts := newLab(t, 2)
	testenvTools(t, "setpriv")
	tapNode, user := hosts[0], hosts[1]
	_, token, tapIP := adminWithRed(t, tapNode)
	serveName(t, tapNode, tapIP)
	if _, err := user.Start("local-web", bin.xfer, "serve", "-listen", "127.0.0.1:8080", "-name", "local-on-"+user.Name); err != nil {
		t.Fatal(err)
	}

	c := config.DefaultConfig()
	c.Name, c.Token, c.Userspace = user.Name, token, true
	c.Networks = []config.NetworkConfig{{Name: "red"}}
	c.Expose = []string{"tcp:8080"}
	m, err := user.StartMeshnetAs(bin.meshnet, c, nobody, nobody)
	if err != nil {
		t.Fatal(err)
	}
	if got := capEff(t, m.Proc.Cmd.Process.Pid); strings.Trim(got, "0") != "" {
		t.Fatalf("the daemon has capabilities: CapEff %s", got)
	}
	st, err := m.WaitNetworks(60*time.Second, "red")
	if err != nil {
		t.Fatal(err)
	}
	if st.Node.Mode != "userspace" {
		t.Fatalf("mode %q", st.Node.Mode)
	}
	userIP := strings.Split(st.Networks[0].Address, "/")[0]
	waitEndpoints(t, []*netlab.Meshnet{m}, "red", 2)

	page := "http://" + tapIP + "/"
	for _, via := range [][]string{{"-socks5", "127.0.0.1:1080"}, {"-connect-proxy", "127.0.0.1:3128"}} {
		r := httpGet(t, user, append([]string{"-url", page, "-n", "5", "-timeout", "5s"}, via...)...)
		if r.Errors != 0 || r.Counts[tapNode.Name] != 5 {
			t.Fatalf("through %s: %+v", via[0], r)
		}
	}
	// A destination outside the overlay is refused, never reached.
	r := httpGet(t, user, "-url", "http://"+tapNode.Addr.String()+"/", "-n", "1", "-socks5", "127.0.0.1:1080")
	if r.Errors != 1 {
		t.Fatalf("a proxy request outside the overlay was not refused: %+v", r)
	}
	// The expose: the TAP node reaches the userspace node's local server.
	r = httpGet(t, tapNode, "-url", "http://"+userIP+":8080/", "-n", "3", "-timeout", "5s")
	if r.Errors != 0 || r.Counts["local-on-"+user.Name] != 3 {
		t.Fatalf("through the expose: %+v", r)
	}
}

// TestUserOwnedDevice creates a persistent TAP device for nobody as root,
// then runs the daemon as nobody with no capabilities on it.
func TestUserOwnedDevice(t *testing.T) {
	_, hosts := newLab(t, 2)
	testenvTools(t, "setpriv")
	admin, user := hosts[0], hosts[1]
	adminNode, token, adminIP := adminWithRed(t, admin)
	// A bare machine may keep /dev/net/tun 0600. Then device create stops
	// before making anything and names the fix; with --fix-perms it
	// applies it. The mode is restored after the test.
	testenv.HoldCloneMode(t)
	create := []string{"device", "create", "mn-red", "--user", "nobody", "--addr", "10.10.0.77/24", "--mtu", "1370"}
	if a, err := tun.StatClone(); err == nil && !a.Allows(nobody, nobody) {
		out, err := user.Run(bin.meshnet, create...)
		if err == nil || !strings.Contains(out, "--fix-perms") {
			t.Fatalf("device create on a %04o /dev/net/tun: %v\n%s", a.Perm, err, out)
		}
		if _, err := user.Run("ip", "link", "show", "mn-red"); err == nil {
			t.Fatal("a refused device create left the device behind")
		}
	}
	if out, err := user.Run(bin.meshnet, append(create, "--fix-perms")...); err != nil {
		t.Fatalf("device create: %v\n%s", err, out)
	}
	c := config.DefaultConfig()
	c.Name, c.Token = user.Name, token
	c.Networks = []config.NetworkConfig{{Name: "red", Device: "mn-red"}}
	c.DNS.Enabled = new(bool) // port 53 needs privilege; not this test's subject
	m, err := user.StartMeshnetAs(bin.meshnet, c, nobody, nobody)
	if err != nil {
		t.Fatal(err)
	}
	if got := capEff(t, m.Proc.Cmd.Process.Pid); strings.Trim(got, "0") != "" {
		t.Fatalf("the daemon has capabilities: CapEff %s", got)
	}
	if _, err := m.WaitNetworks(60*time.Second, "red"); err != nil {
		t.Fatal(err)
	}
	waitEndpoints(t, []*netlab.Meshnet{adminNode, m}, "red", 2)
	ping(t, admin, mustAddr("10.10.0.77"), 3)
	ping(t, user, mustAddr(adminIP), 3)
	if out, _ := m.CLI("doctor"); !strings.Contains(out, "device permissions: /dev/net/tun is mode 0666") {
		t.Errorf("doctor does not report the fixed mode:\n%s", out)
	}
	// The device outlives the daemon: it is the user's.
	m.Proc.Kill()
	if _, err := user.Run("ip", "link", "show", "mn-red"); err != nil {
		t.Fatalf("the persistent device went away with the daemon: %v", err)
	}
	if _, err := user.Run(bin.meshnet, "device", "rm", "mn-red"); err != nil {
		t.Fatal(err)
	}
}

// TestDemoRunsUnprivileged runs `meshnet demo` as nobody.
func TestDemoRunsUnprivileged(t *testing.T) {
	_, hosts := newLab(t, 1)
	testenvTools(t, "setpriv")
	if testing.Short() {
		t.Skip("runs three nodes for a minute; skipped in -short mode")
	}
	out, err := hosts[0].Run("setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
		"--inh-caps=-all", "--bounding-set=-all", "--", bin.meshnet, "demo")
	if err != nil {
		t.Fatalf("meshnet demo as nobody: %v\n%s", err, out)
	}
	if !strings.Contains(out, "verdict: OK") {
		t.Fatalf("no verdict:\n%s", out)
	}
}
