package encap

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl"

	"meshnet.dev/meshnet/internal/testenv"
)

// testInterfaceName is a configuration socket name for one test, "mnwg-"
// and a random suffix.
func testInterfaceName() string {
	return fmt.Sprintf("mnwg-%06x", rand.Uint32()&0xffffff)
}

func TestWireGuardUAPI(t *testing.T) {
	testenv.RequireRoot(t) // the socket lives in /var/run/wireguard
	name := testInterfaceName()
	sock := filepath.Join(wgSocketDir, name+".sock")
	a := newWGNode(t, func(c *WireGuardConfig) { c.InterfaceName = name })
	b := newWGNode(t, nil)
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm()&0o077 != 0 {
		t.Fatalf("configuration socket %s: %v, %v; want a socket only root can use", sock, fi, err)
	}
	connect(t, a, b)
	sendAndCheck(t, a, b, 2, 16)

	t.Run("wgctrl", func(t *testing.T) {
		c, err := wgctrl.New()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		d, err := c.Device(name)
		if err != nil {
			t.Fatalf("wgctrl cannot see %s: %v", name, err)
		}
		if d.PublicKey != a.pub || d.ListenPort != int(a.w.LocalPort()) || len(d.Peers) != 1 {
			t.Fatalf("wgctrl sees port %d and %d peers; want port %d, 1 peer and a's public key", d.ListenPort, len(d.Peers), a.w.LocalPort())
		}
		p := d.Peers[0]
		if p.PublicKey != b.pub || time.Since(p.LastHandshakeTime) > time.Minute || p.ReceiveBytes == 0 || p.TransmitBytes == 0 {
			t.Errorf("wgctrl's peer: handshake %v, rx %d, tx %d; want b, a recent handshake and traffic", p.LastHandshakeTime, p.ReceiveBytes, p.TransmitBytes)
		}
		// PeerStats reads the socket the same way.
		st := mustPeerStats(t, a)
		if len(st) != 1 || st[0].PublicKey != b.pub || st[0].VTEP != b.vtep || st[0].TxBytes == 0 || st[0].LastHandshake.IsZero() {
			t.Errorf("PeerStats over the socket = %+v", st)
		}
	})

	t.Run("wg show", func(t *testing.T) {
		testenv.RequireTools(t, "wg")
		out := run(t, "wg", "show", name)
		for _, want := range []string{"interface: " + name, "peer: " + base64.StdEncoding.EncodeToString(b.pub[:]), "latest handshake", "transfer:", b.vtep.String() + "/128"} {
			if !strings.Contains(out, want) {
				t.Errorf("`wg show %s` lacks %q:\n%s", name, want, out)
			}
		}
		if strings.Contains(out, base64.StdEncoding.EncodeToString(a.key[:])) {
			t.Error("`wg show` printed the private key")
		}
	})

	t.Run("name taken", func(t *testing.T) {
		key := newTestKey(t)
		w, err := NewWireGuard(WireGuardConfig{EphemeralPort: true, PrivateKey: key, VTEP: vtepOfKey(publicOf(t, key)), InterfaceName: name})
		if err == nil {
			w.Close()
			t.Fatalf("a second transport took interface name %s", name)
		}
		if !strings.Contains(err.Error(), "taken") || !strings.Contains(err.Error(), name) {
			t.Errorf("error %q: want it to say the name %s is taken", err, name)
		}
		if _, err := os.Stat(sock); err != nil {
			t.Errorf("the failed attempt disturbed the live socket: %v", err)
		}
	})

	const uapiLoop = "encap.(*wgUAPI)."
	// A client that keeps its connection open must not hold up Close.
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("get=1\n\n")); err != nil {
		t.Fatal(err)
	}
	if reply, err := bufio.NewReader(conn).ReadString('\n'); err != nil || !strings.HasPrefix(reply, "private_key=") {
		t.Fatalf("raw get over the socket: %q, %v", reply, err)
	}
	if err := a.w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket %s after Close: %v, want it removed", sock, err)
	}
	if n := goroutinesStartedByAfterStop(uapiLoop+"serve", 0) + goroutinesStartedByAfterStop(uapiLoop+"accept", 0); n != 0 {
		t.Errorf("%d configuration socket goroutines left after Close", n)
	}
	// The name is free again.
	key := newTestKey(t)
	w, err := NewWireGuard(WireGuardConfig{EphemeralPort: true, PrivateKey: key, VTEP: vtepOfKey(publicOf(t, key)), InterfaceName: name})
	if err != nil {
		t.Fatalf("reusing interface name %s after Close: %v", name, err)
	}
	w.Close()
}

// TestWireGuardUAPIStaleSocket checks that a socket file left by a crashed
// device does not block the name.
func TestWireGuardUAPIStaleSocket(t *testing.T) {
	testenv.RequireRoot(t)
	name := testInterfaceName()
	sock := filepath.Join(wgSocketDir, name+".sock")
	if err := os.MkdirAll(wgSocketDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(sock) })
	n := newWGNode(t, func(c *WireGuardConfig) { c.InterfaceName = name })
	if n.w.InterfaceName() != name {
		t.Errorf("InterfaceName = %q, want %q", n.w.InterfaceName(), name)
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Errorf("stale file was not replaced by a socket: %v, %v", fi, err)
	}
}
