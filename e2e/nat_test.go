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
	join := func(h *netlab.Host) *netlab.Meshnet {
		c := config.DefaultConfig()
		c.Name, c.Token = h.Name, token
		c.Networks = []config.NetworkConfig{{Name: "red"}}
		m, err := h.StartMeshnet(bin.meshnet, c)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
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
