package e2e

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"meshnet.dev/meshnet/e2e/netlab"
	"meshnet.dev/meshnet/node/api"
	"meshnet.dev/meshnet/node/config"
)

// TestLaptopBehindConeNAT puts a laptop behind a NAT that keeps one
// public port per private one and filters what comes in (a port-restricted
// cone: Linux masquerade with inbound blocked unless a mapping exists), and
// another behind a symmetric NAT, both joining a cluster of public nodes
// with a token. Each learns from the members what its NAT does; the cone
// laptop advertises its public address, is reached both ways over the
// encrypted network, and no member marks it failed while it stays: a
// minute, longer than the NAT keeps an idle mapping (30 s).
func TestLaptopBehindConeNAT(t *testing.T) {
	lab, hosts := newLab(t, 2)
	testenvTools(t, "nft", "sysctl")
	cone, err := lab.AddNAT("cone", netlab.ConeNAT)
	if err != nil {
		t.Fatal(err)
	}
	sym, err := lab.AddNAT("sym", netlab.SymmetricNAT)
	if err != nil {
		t.Fatal(err)
	}
	laptop, err := lab.AddHostBehind(cone, "laptop")
	if err != nil {
		t.Fatal(err)
	}
	phone, err := lab.AddHostBehind(sym, "phone")
	if err != nil {
		t.Fatal(err)
	}
	admin, token, adminIP := adminWithRed(t, hosts[0])
	join := func(h *netlab.Host) *netlab.Meshnet { return startJoiner(t, h, token) }
	public := join(hosts[1])
	lm := join(laptop)
	start := time.Now()
	pm := join(phone)

	st, err := lm.WaitNetworks(60*time.Second, "red")
	if err != nil {
		t.Fatal(err)
	}
	laptopIP := netip.MustParsePrefix(st.Networks[0].Address).Addr()
	if want := cone.Public.String(); !strings.HasPrefix(st.Node.Underlay, want+":") {
		t.Fatalf("the laptop advertises %s, want its NAT's public address %s", st.Node.Underlay, want)
	}
	waitReachability(t, lm, "endpoint-independent", fmt.Sprintf("%s:%d", cone.Public, config.DefaultConfig().Gossip.Port))
	waitReachability(t, pm, "endpoint-dependent", "")
	waitReachability(t, admin, "none", "")

	// Reached both ways, over the encrypted network: ping and TCP.
	ping(t, laptop, netip.MustParseAddr(adminIP), 3)
	t.Logf("join to first ping answered: %s", time.Since(start).Round(10*time.Millisecond))
	ping(t, hosts[0], laptopIP, 3)
	ping(t, hosts[1], laptopIP, 3)
	for _, pair := range [][2]*netlab.Host{{hosts[0], laptop}, {laptop, hosts[1]}} {
		toIP := laptopIP.String()
		if pair[1] != laptop {
			toIP = ownIP(t, public)
		}
		sent, got := transfer(t, pair[0], pair[1], toIP, 20<<20)
		if got.Bytes != sent.Bytes || got.SHA256 != sent.SHA256 {
			t.Fatalf("%s → %s: sent %+v, received %+v", pair[0].Name, pair[1].Name, sent, got)
		}
	}

	// No member marks the laptop failed, through a minute in which the
	// NAT would forget every mapping not kept open.
	until := time.Now().Add(time.Minute)
	for time.Now().Before(until) {
		for _, m := range []*netlab.Meshnet{admin, public} {
			st, err := m.Status()
			if err != nil {
				t.Fatal(err)
			}
			if p := peerNamed(st, laptop.Name); p == nil || p.State != "alive" {
				t.Fatalf("%s sees the laptop as %+v", m.Host.Name, p)
			}
		}
		time.Sleep(500 * time.Millisecond) // sampling: the condition is "never", not "eventually"
	}
	ping(t, hosts[1], laptopIP, 3)
	if n, _ := cone.Blocked(); n > 0 {
		t.Logf("the cone NAT dropped %d unsolicited packets (members' sends before the laptop's first)", n)
	}
}

// waitReachability waits until m's status says what its NAT does.
func waitReachability(t *testing.T, m *netlab.Meshnet, nat, public string) {
	t.Helper()
	err := netlab.Poll(60*time.Second, 200*time.Millisecond, func() error {
		st, err := m.Status()
		if err != nil {
			return err
		}
		r := st.Node.Reachability
		if r == nil || r.NAT != nat || (public != "" && r.Public != public) {
			return fmt.Errorf("%s: reachability %+v, want %s %s", m.Host.Name, r, nat, public)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := m.CLI("status")
	t.Logf("%s: %s", m.Host.Name, firstLine(out, "Reachability:"))
}

func peerNamed(st *api.Status, name string) *api.Peer {
	for i := range st.Peers {
		if st.Peers[i].Name == name {
			return &st.Peers[i]
		}
	}
	return nil
}

// ownIP is the node's address on its first network.
func ownIP(t *testing.T, m *netlab.Meshnet) string {
	t.Helper()
	st, err := m.WaitNetworks(30*time.Second, "red")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(st.Networks[0].Address, "/")[0]
}

func firstLine(out, prefix string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// joinBehind joins a node on h to the admin's cluster with token and
// waits until it has its address on red.
func joinBehind(t *testing.T, h *netlab.Host, token string) (*netlab.Meshnet, netip.Addr) {
	t.Helper()
	m := startJoiner(t, h, token)
	return m, netip.MustParseAddr(ownIP(t, m))
}

// startJoiner starts a node on h that joins with token and wants red.
func startJoiner(t *testing.T, h *netlab.Host, token string) *netlab.Meshnet {
	t.Helper()
	c := config.DefaultConfig()
	c.Name, c.Token = h.Name, token
	c.Networks = []config.NetworkConfig{{Name: "red"}}
	m, err := h.StartMeshnet(bin.meshnet, c)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// wgEndpoint is the endpoint h's WireGuard device holds for the peer
// whose public key is pub.
func wgEndpoint(t *testing.T, h *netlab.Host, pub string) string {
	t.Helper()
	out, err := h.Run("wg", "show", "wg-"+h.Name, "endpoints")
	if err != nil {
		t.Fatalf("wg show: %v", err)
	}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == pub {
			return f[1]
		}
	}
	return ""
}

// TestLaptopsBehindTwoConeNATs: two laptops behind two different
// filtering cone NATs reach each other directly. Each keeps sending to
// every member, the other included, so each NAT soon holds a mapping
// that lets the other's packets in: the punch is the nodes' own traffic,
// coordinated by what the public member tells each of the other.
func TestLaptopsBehindTwoConeNATs(t *testing.T) {
	lab, hosts := newLab(t, 1)
	testenvTools(t, "nft", "sysctl", "wg")
	var laptops []*netlab.Host
	var nats []*netlab.NAT
	for i := range 2 {
		n, err := lab.AddNAT(fmt.Sprintf("home%d", i), netlab.ConeNAT)
		if err != nil {
			t.Fatal(err)
		}
		h, err := lab.AddHostBehind(n, fmt.Sprintf("laptop%d", i))
		if err != nil {
			t.Fatal(err)
		}
		nats, laptops = append(nats, n), append(laptops, h)
	}
	_, token, _ := adminWithRed(t, hosts[0])
	m0, _ := joinBehind(t, laptops[0], token)
	m1, ip1 := joinBehind(t, laptops[1], token)
	start := time.Now()
	if err := netlab.Poll(60*time.Second, 200*time.Millisecond, func() error {
		_, err := laptops[0].Run("ping", "-c", "1", "-W", "1", ip1.String())
		return err
	}); err != nil {
		t.Fatalf("laptop0 never reached laptop1: %v", err)
	}
	t.Logf("both laptops attached to first ping answered: %s", time.Since(start).Round(10*time.Millisecond))
	sent, got := transfer(t, laptops[0], laptops[1], ip1.String(), 20<<20)
	if got.Bytes != sent.Bytes || got.SHA256 != sent.SHA256 {
		t.Fatalf("sent %+v, received %+v", sent, got)
	}
	// Direct: each holds the other's NAT's public address as the
	// WireGuard endpoint.
	for i, m := range []*netlab.Meshnet{m0, m1} {
		other := []*netlab.Meshnet{m1, m0}[i]
		st, err := other.Status()
		if err != nil {
			t.Fatal(err)
		}
		ep := wgEndpoint(t, m.Host, st.Keys.PublicKey)
		if !strings.HasPrefix(ep, nats[1-i].Public.String()+":") {
			t.Fatalf("%s sends to %s at %q, want %s's public address", m.Host.Name, other.Host.Name, ep, nats[1-i].Name)
		}
	}
	t.Logf("%d MB at %.0f Mbit/s, laptop to laptop through two NATs", got.Bytes>>20, got.Mbps)
	if err := netlab.Poll(30*time.Second, 200*time.Millisecond, func() error {
		st, err := m0.Status()
		if err != nil {
			return err
		}
		if p := peerNamed(st, laptops[1].Name); p == nil || p.Path != "direct, through both NATs" {
			return fmt.Errorf("laptop0's path to laptop1: %+v", p)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	out, _ := m0.CLI("peers")
	t.Logf("meshnet peers on laptop0:\n%s", out)
}

// TestLaptopRoams moves a laptop from one NAT to another while a public
// member pings it: the node notices its new address, tells members where
// it went, and the pings come back without a restart.
func TestLaptopRoams(t *testing.T) {
	lab, hosts := newLab(t, 1)
	testenvTools(t, "nft", "sysctl")
	home, err := lab.AddNAT("home", netlab.ConeNAT)
	if err != nil {
		t.Fatal(err)
	}
	cafe, err := lab.AddNAT("cafe", netlab.ConeNAT)
	if err != nil {
		t.Fatal(err)
	}
	laptop, err := lab.AddHostBehind(home, "laptop")
	if err != nil {
		t.Fatal(err)
	}
	admin, token, _ := adminWithRed(t, hosts[0])
	_, ip := joinBehind(t, laptop, token)
	p := startPinger(t, hosts[0], ip.String())

	moved := time.Now()
	if err := lab.Move(laptop, cafe); err != nil {
		t.Fatal(err)
	}
	if err := netlab.Poll(60*time.Second, 50*time.Millisecond, func() error {
		if !p.lastAnswer().After(moved) {
			return fmt.Errorf("no answer since the move")
		}
		return nil
	}); err != nil {
		t.Fatalf("the laptop never answered again after moving: %v", err)
	}
	t.Logf("moved from %s to %s: pings answered again after %s", home.Public, cafe.Public, p.lastAnswer().Sub(moved).Round(10*time.Millisecond))
	if st, err := admin.Status(); err != nil || peerNamed(st, laptop.Name) == nil || peerNamed(st, laptop.Name).State != "alive" {
		t.Fatalf("the admin sees the laptop as %+v (%v)", peerNamed(st, laptop.Name), err)
	}
}
