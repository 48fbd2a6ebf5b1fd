package netlab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"meshnet.dev/meshnet/internal/testenv"
)

// TestNAT checks the lab's NATs with real traffic: hosts behind them reach
// the underlay and get answers, the underlay cannot reach in unasked, a
// cone NAT keeps one public port per private port whatever the
// destination, a symmetric one does not, a host can move between NATs, and
// Close leaves no namespace behind.
func TestNAT(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "ip", "nft", "ping", "socat", "sysctl")
	lab, err := New(Options{Prefix: "mnnat", Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			lab.Close()
		}
	})
	host, nat := need[*Host](t), need[*NAT](t)
	pub := host(lab.AddHost("pub"))
	cone := nat(lab.AddNAT("cone", ConeNAT))
	sym := nat(lab.AddNAT("sym", SymmetricNAT))
	a := host(lab.AddHostBehind(cone, "a"))
	a2 := host(lab.AddHostBehind(cone, "a2"))
	b := host(lab.AddHostBehind(sym, "b"))
	if cone.LAN.Overlaps(sym.LAN) || !cone.LAN.Contains(a.Addr) || !sym.LAN.Contains(b.Addr) {
		t.Fatalf("LANs %s and %s, hosts at %s and %s", cone.LAN, sym.LAN, a.Addr, b.Addr)
	}

	// Out through a NAT works, and the NAT's public address answers pings.
	for _, h := range []*Host{a, a2, b} {
		if err := ping(h, pub.Addr); err != nil {
			t.Fatal(err)
		}
	}
	if err := ping(pub, cone.Public); err != nil {
		t.Fatal(err)
	}

	// In does not: the underlay has no route to the LANs, and a neighbour
	// that adds one finds the router forwards nothing in.
	if out, err := pub.Run("ping", "-c1", "-W1", a.Addr.String()); err == nil {
		t.Errorf("pub pings %s behind the NAT:\n%s", a.Addr, out)
	}
	if _, err := pub.Run("ip", "route", "add", cone.LAN.String(), "via", cone.Public.String()); err != nil {
		t.Fatal(err)
	}
	waitBlocked(t, cone, func() error {
		if out, err := pub.Run("ping", "-c1", "-W1", a.Addr.String()); err == nil {
			return fmt.Errorf("pub pings %s through the NAT:\n%s", a.Addr, out)
		}
		return nil
	})

	// A datagram to the public address before any mapping is dropped,
	// also on the port a will map next.
	waitBlocked(t, cone, func() error { return send(pub, 9999, netip.AddrPortFrom(cone.Public, 40000)) })

	// A source outside the LAN does not leave it.
	if _, err := a.Run("ip", "addr", "add", "192.0.2.9/32", "dev", "eth0"); err != nil {
		t.Fatal(err)
	}
	if out, err := a.Run("ping", "-c1", "-W1", "-I", "192.0.2.9", pub.Addr.String()); err == nil {
		t.Errorf("a pings from a foreign source:\n%s", out)
	}
	if n, err := cone.counter("spoofed"); err != nil || n == 0 {
		t.Errorf("spoofed drops = %d, %v; want some", n, err)
	}

	to := func(port uint16) netip.AddrPort { return netip.AddrPortFrom(pub.Addr, port) }
	for _, port := range []uint16{7001, 7002, 7003} {
		if err := echoPeers(pub, port); err != nil {
			t.Fatal(err)
		}
	}

	// Cone: a's port stays itself (it is free) for every destination. Each
	// answer reaching a shows the way back through the mapping works.
	want := netip.AddrPortFrom(cone.Public, 40000)
	for _, port := range []uint16{7001, 7002} {
		if got := seenFrom(t, a, 40000, to(port)); got != want {
			t.Errorf("cone: a:40000 to pub:%d arrives from %s, want %s", port, got, want)
		}
	}
	// a2 wants the same private port toward the same peer: taken, so it
	// gets another, and keeps it toward a new peer although 40000 would be
	// free there: the mapping follows the private port, not the peer.
	first := seenFrom(t, a2, 40000, to(7001))
	t.Logf("cone: a2:40000 maps to %s", first)
	if first.Addr() != cone.Public || first.Port() == 40000 {
		t.Errorf("cone: a2:40000 to pub:7001 arrives from %s, want %s with another port", first, cone.Public)
	}
	if got := seenFrom(t, a2, 40000, to(7003)); got != first {
		t.Errorf("cone: a2:40000 to pub:7003 arrives from %s, want %s as to pub:7001", got, first)
	}
	// The mapping answers only the peer it was opened to.
	waitBlocked(t, cone, func() error { return send(pub, 9999, want) })

	// Symmetric: each destination gets its own random port. Two could
	// draw the same one by chance (1 in 64512); three all alike would be
	// a mapping that ignores the destination.
	ports := map[uint16]bool{}
	for _, port := range []uint16{7001, 7002, 7003} {
		got := seenFrom(t, b, 40000, to(port))
		if got.Addr() != sym.Public {
			t.Errorf("symmetric: b to pub:%d arrives from %s, want %s", port, got, sym.Public)
		}
		ports[got.Port()] = true
		t.Logf("symmetric: b:40000 to pub:%d maps to %s", port, got)
	}
	if len(ports) < 2 {
		t.Errorf("symmetric: three destinations saw one public port %v", ports)
	}

	// Roaming: a moves behind the symmetric NAT and carries on from there;
	// its old veth is gone from the cone router.
	old := a.Uplink()
	if err := lab.Move(a, sym); err != nil {
		t.Fatal(err)
	}
	if !sym.LAN.Contains(a.Addr) || a.Uplink() == old {
		t.Errorf("after the move a is at %s (uplink %s), want in %s", a.Addr, a.Uplink(), sym.LAN)
	}
	if err := ping(a, pub.Addr); err != nil {
		t.Fatal(err)
	}
	if got := seenFrom(t, a, 40001, to(7001)); got.Addr() != sym.Public {
		t.Errorf("after the move a arrives from %s, want %s", got, sym.Public)
	}
	if out, err := cone.Router.Run("ip", "link", "show", old); err == nil {
		t.Errorf("%s is still in the cone router:\n%s", old, out)
	}

	closed = true
	if err := lab.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := runOutput("ip", "netns", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, lab.Prefix+"-") {
			t.Errorf("namespace left after Close: %s", line)
		}
	}
}

// need returns a function that passes on a value or ends the test on its error.
func need[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Helper()
	l.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// ping polls until h gets an answer from addr.
func ping(h *Host, addr netip.Addr) error {
	return Poll(10*time.Second, 100*time.Millisecond, func() error {
		_, err := h.Run("ping", "-c1", "-W1", addr.String())
		return err
	})
}

// waitBlocked runs try until it fails or the NAT counts another
// unsolicited packet dropped.
func waitBlocked(t *testing.T, n *NAT, try func() error) {
	t.Helper()
	before, err := n.Blocked()
	if err != nil {
		t.Fatal(err)
	}
	err = Poll(10*time.Second, 100*time.Millisecond, func() error {
		if err := try(); err != nil {
			return err
		}
		after, err := n.Blocked()
		if err != nil {
			return err
		}
		if after == before {
			return errors.New("the NAT dropped nothing")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// send sends one datagram from h's port src to dst.
func send(h *Host, src uint16, dst netip.AddrPort) error {
	cmd := h.Command(context.Background(), "socat", "-u", "-", fmt.Sprintf("UDP4-SENDTO:%s,sourceport=%d,reuseaddr", dst, src))
	cmd.Stdin = strings.NewReader("unasked\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("sending to %s: %w: %s", dst, err, out)
	}
	return nil
}

// echoPeers answers every datagram to h's port with the address and port
// it came from, as h sees them.
func echoPeers(h *Host, port uint16) error {
	_, err := h.Start(fmt.Sprintf("echo-%d", port), "socat", fmt.Sprintf("UDP4-RECVFROM:%d,fork,reuseaddr", port),
		// cat drains the datagram first, so socat's write to the shell never meets a closed pipe.
		"SYSTEM:cat >/dev/null; echo $SOCAT_PEERADDR $SOCAT_PEERPORT")
	return err
}

// seenFrom sends from h's port src to an echoPeers listener at dst until
// the answer comes back, and returns where the listener saw it come from.
func seenFrom(t *testing.T, h *Host, src uint16, dst netip.AddrPort) netip.AddrPort {
	t.Helper()
	var seen netip.AddrPort
	err := Poll(10*time.Second, 100*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// socat waits half a second for the answer once its input ends.
		cmd := h.Command(ctx, "socat", "-", fmt.Sprintf("UDP4:%s,sourceport=%d,reuseaddr", dst, src))
		cmd.Stdin = strings.NewReader("where am I from?\n")
		out, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
			}
			return fmt.Errorf("%s:%d to %s: %w", h.Name, src, dst, err)
		}
		f := strings.Fields(string(out))
		if len(f) != 2 {
			return fmt.Errorf("%s:%d to %s: no answer (%q)", h.Name, src, dst, out)
		}
		addr, err := netip.ParseAddr(f[0])
		if err != nil {
			return err
		}
		port, err := strconv.ParseUint(f[1], 10, 16)
		if err != nil {
			return err
		}
		seen = netip.AddrPortFrom(addr, uint16(port))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return seen
}
