package tables

import (
	"net/netip"
	"testing"

	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/routing"
)

func TestClaimsKeepOnlyBlocksOfTheSubnet(t *testing.T) {
	sub := netip.MustParsePrefix("10.0.0.0/24") // /30 blocks
	entries := []gossip.Entry{{Key: "10.0.0.4/30", Owner: "a", LTime: 3}, {Key: "10.0.0.5/30", Owner: "b"},
		{Key: "10.0.0.0/29", Owner: "b"}, {Key: "10.1.0.4/30", Owner: "b"}, {Key: "junk", Owner: "b"}}
	got := Claims(sub, entries)
	if len(got) != 1 || got[0] != (routing.Claim{Block: netip.MustParsePrefix("10.0.0.4/30"), Owner: "a", LTime: 3}) {
		t.Fatalf("claims %+v", got)
	}
}

func TestReclaimable(t *testing.T) {
	sub := netip.MustParsePrefix("10.0.0.0/24")
	b := netip.MustParsePrefix("10.0.0.8/30")
	ip := netip.MustParseAddr
	cases := []struct {
		name  string
		block netip.Prefix
		won   map[netip.Prefix]routing.Claim
		used  []netip.Addr
		ok    bool
	}{
		{"free", b, nil, nil, true},
		{"still ours", b, map[netip.Prefix]routing.Claim{b: {Block: b, Owner: "a"}}, []netip.Addr{ip("10.0.0.9")}, true},
		{"taken by another node", b, map[netip.Prefix]routing.Claim{b: {Block: b, Owner: "b"}}, nil, false},
		{"an endpoint uses another address in it", b, nil, []netip.Addr{ip("10.0.0.10")}, false},
		{"not a block of this subnet", netip.MustParsePrefix("10.1.0.8/30"), nil, nil, false},
	}
	for _, c := range cases {
		if got := Reclaimable(c.block, sub, "a", c.won, c.used); got != c.ok {
			t.Errorf("%s: %v, want %v", c.name, got, c.ok)
		}
	}
}

func TestFreeVIPTakesTheTopOfTheSubnet(t *testing.T) {
	sub := netip.MustParsePrefix("10.0.0.0/24")
	used := map[netip.Addr]bool{netip.MustParseAddr("10.0.0.254"): true}
	inUse := func(a netip.Addr) bool { return used[a] }
	vip, ok := FreeVIP(sub, []gossip.Entry{{Key: "10.0.0.248/30"}}, inUse)
	// .255 is the broadcast address, .254 is used, .252/30 is free.
	if !ok || vip != netip.MustParseAddr("10.0.0.253") {
		t.Fatalf("VIP %v %v, want 10.0.0.253", vip, ok)
	}
	tiny := netip.MustParsePrefix("10.0.0.0/30")
	if _, ok := FreeVIP(tiny, []gossip.Entry{{Key: "10.0.0.0/30"}}, inUse); ok {
		t.Fatal("a VIP inside a claimed block")
	}
}
