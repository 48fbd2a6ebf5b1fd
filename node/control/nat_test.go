package control

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"meshnet.dev/meshnet/gossip"
)

func TestReachabilityInWords(t *testing.T) {
	now := time.Unix(1e9, 0)
	local := netip.MustParseAddrPort("10.0.0.2:7946")
	obs := func(member, saw string) gossip.Observation {
		return gossip.Observation{Observer: netip.MustParseAddrPort(member), Mapped: netip.MustParseAddrPort(saw), At: now.Add(-3 * time.Second)}
	}
	for _, c := range []struct {
		r        gossip.NATReport
		status   string
		words    []string
		observer int
	}{
		{gossip.NATReport{Mapping: gossip.MappingUnknown, Local: local}, "warn", []string{"not known yet"}, 0},
		{gossip.NATReport{Mapping: gossip.MappingNone, Local: local, Public: local,
			Observations: []gossip.Observation{obs("192.0.2.1:7946", "10.0.0.2:7946")}}, "ok", []string{"reachable directly", "10.0.0.2:7946"}, 1},
		{gossip.NATReport{Mapping: gossip.MappingIndependent, BehindNAT: true, Local: local, Public: netip.MustParseAddrPort("203.0.113.9:7946"),
			Observations: []gossip.Observation{obs("192.0.2.1:7946", "203.0.113.9:7946"), obs("192.0.2.2:7946", "203.0.113.9:7946")}},
			"warn", []string{"cone", "203.0.113.9:7946"}, 2},
		{gossip.NATReport{Mapping: gossip.MappingDependent, BehindNAT: true, Local: local,
			Observations: []gossip.Observation{obs("192.0.2.1:7946", "203.0.113.9:1001"), obs("192.0.2.2:7946", "203.0.113.9:1002")}},
			"warn", []string{"symmetric", "203.0.113.9:1001", "203.0.113.9:1002"}, 2},
	} {
		api := Reachability(c.r, now)
		for _, w := range c.words {
			if !strings.Contains(api.Summary, w) {
				t.Errorf("%s: summary %q lacks %q", c.r.Mapping, api.Summary, w)
			}
		}
		if api.NAT != string(c.r.Mapping) || len(api.Observers) != c.observer || (c.observer > 0 && api.Observers[0].AgeSeconds != 3) {
			t.Errorf("%s: %+v", c.r.Mapping, api)
		}
		if ch := checkReachability(c.r, c.r.Local); ch.Status != c.status || (c.status == "warn" && ch.Fix == "") {
			t.Errorf("%s: doctor %+v", c.r.Mapping, ch)
		}
	}
}

func TestPathNamesTheNATs(t *testing.T) {
	for _, c := range []struct {
		self, peer bool
		want       string
	}{{false, false, "direct"}, {true, false, "direct, through this node's NAT"},
		{false, true, "direct, through its NAT"}, {true, true, "direct, through both NATs"}} {
		if got := path(c.self, c.peer); got != c.want {
			t.Errorf("self %t peer %t: %q, want %q", c.self, c.peer, got, c.want)
		}
	}
}
