package routing

import (
	"net/netip"
	"testing"

	"meshnet.dev/meshnet/internal/packet"
)

func TestTableSnapshots(t *testing.T) {
	tb := NewTable()
	vni := uint32(42)
	macA, macB := packet.MAC{2, 0, 0, 0, 0, 0xa}, packet.MAC{2, 0, 0, 0, 0, 0xb}
	ipA, ipB := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	tb.Update(func(tx *Tx) {
		tx.SetNetwork(NetworkConfig{Name: "blue", VNI: vni, Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}})
		tx.SetPeer(PeerConfig{Name: "b", Underlay: netip.MustParseAddrPort("192.0.2.2:4789")})
		tx.SetMember(vni, "b", true)
		tx.SetEndpoint(vni, Endpoint{MAC: macA, IP: ipA})
		tx.SetEndpoint(vni, Endpoint{MAC: macB, IP: ipB, Node: "b"})
	})
	before := tb.Snapshot()
	n := before.Network(vni)
	if n == nil || len(n.Members) != 1 || n.Members[0].Name != "b" {
		t.Fatalf("network %+v", n)
	}
	if _, local, ok := n.LookupMAC(macA); !ok || !local {
		t.Error("local endpoint not local")
	}
	if p, local, ok := n.LookupMAC(macB); !ok || local || p.Name != "b" {
		t.Error("remote endpoint not behind b")
	}
	if m, p, ok := n.LookupIP(ipB); !ok || m != macB || p.Name != "b" {
		t.Error("IP lookup of remote endpoint failed")
	}
	if !n.IsMember(before.PeerByUnderlay(netip.MustParseAddr("192.0.2.2"))) {
		t.Error("b not a member by underlay address")
	}

	// Snapshots are immutable: later changes never show in an old one.
	tb.Update(func(tx *Tx) {
		tx.RemoveEndpoint(vni, macB, ipB)
		tx.SetMember(vni, "b", false)
	})
	if _, _, ok := n.LookupIP(ipB); !ok {
		t.Error("old snapshot changed")
	}
	n2 := tb.Snapshot().Network(vni)
	if _, _, ok := n2.LookupIP(ipB); ok || len(n2.Members) != 0 {
		t.Error("new snapshot still has b")
	}
}

func TestEndpointOfUnknownPeerWaits(t *testing.T) {
	tb := NewTable()
	mac := packet.MAC{2, 1}
	tb.Update(func(tx *Tx) {
		tx.SetNetwork(NetworkConfig{Name: "n", VNI: 1})
		tx.SetEndpoint(1, Endpoint{MAC: mac, Node: "later"})
	})
	if _, _, ok := tb.Snapshot().Network(1).LookupMAC(mac); ok {
		t.Fatal("endpoint usable before its node is known")
	}
	tb.Update(func(tx *Tx) {
		tx.SetPeer(PeerConfig{Name: "later", Underlay: netip.MustParseAddrPort("192.0.2.9:4789")})
	})
	if p, _, ok := tb.Snapshot().Network(1).LookupMAC(mac); !ok || p.Name != "later" {
		t.Fatal("endpoint not usable once its node is known")
	}
}

func TestNoOpUpdatePublishesNothing(t *testing.T) {
	tb := NewTable()
	tb.Update(func(tx *Tx) { tx.SetPeer(PeerConfig{Name: "p"}) })
	s := tb.Snapshot()
	tb.Update(func(tx *Tx) { tx.SetPeer(PeerConfig{Name: "p"}) })
	if tb.Snapshot() != s {
		t.Fatal("unchanged update published a new snapshot")
	}
}
