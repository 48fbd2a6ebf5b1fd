package tables

import (
	"bytes"
	"crypto/rand"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/keydist"
	"meshnet.dev/meshnet/routing"
)

func newKey(t testing.TB) keydist.NodePublic {
	t.Helper()
	k, err := keydist.NewNodePrivate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k.Public()
}

// router is an encrypted static peer with a preshared key on network red.
func router(t testing.TB) StaticPeer {
	t.Helper()
	key := newKey(t)
	psk, err := keydist.PresharedKeyFromBytes(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return StaticPeer{Name: "router", Key: key, VTEP: keydist.VTEP(key), PSK: psk, WG: netip.MustParseAddrPort("192.0.2.20:51820"),
		Endpoints: []StaticEndpoint{{Network: "red", IP: netip.MustParseAddr("10.0.0.200"), MAC: macC}, {Network: "red", IP: netip.MustParseAddr("10.0.0.9"), MAC: macA}}}
}

func staticEntry(t testing.TB, p StaticPeer, owner string, ltime uint64) gossip.Entry {
	t.Helper()
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return gossip.Entry{Key: p.Name, Owner: owner, LTime: ltime, Value: b}
}

func TestStaticRoundTrip(t *testing.T) {
	enc := router(t)
	plain := StaticPeer{Name: "kernel", Underlay: netip.MustParseAddrPort("192.0.2.30:4789"),
		Endpoints: []StaticEndpoint{{Network: "blue", IP: netip.MustParseAddr("10.1.0.2"), MAC: macB}}}
	for _, p := range []StaticPeer{enc, plain} {
		e := staticEntry(t, p, "a", 1)
		if bytes.Contains(e.Value, []byte("redacted")) {
			t.Fatalf("the preshared key was encoded redacted: %s", e.Value)
		}
		got, err := DecodeStatic(e)
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		sortStaticEndpoints(p.Endpoints)
		if got.Name != p.Name || got.Key != p.Key || got.VTEP != p.VTEP || got.WG != p.WG || got.Underlay != p.Underlay ||
			!got.PSK.Equal(p.PSK) || !reflect.DeepEqual(got.Endpoints, p.Endpoints) {
			t.Fatalf("%s: decoded %+v, want %+v", p.Name, got, p)
		}
	}
	if r := enc.Route(); r.VTEP != netip.AddrPortFrom(enc.VTEP, encap.Port) || r.Underlay.IsValid() {
		t.Fatalf("route of an encrypted peer %+v", r)
	}
}

func TestDecodeStaticRefuses(t *testing.T) {
	cases := map[string]string{
		"no kind":           `{"v":1,"endpoints":[]}`,
		"both kinds":        `{"v":1,"vxlan":"192.0.2.1:4789","key":"nodepub:` + newKey(t).String() + `","vtep":"fd00::1","endpoints":[]}`,
		"no VTEP":           `{"v":1,"key":"nodepub:` + newKey(t).String() + `","endpoints":[]}`,
		"VTEP outside fd":   `{"v":1,"key":"nodepub:` + newKey(t).String() + `","vtep":"fe80::1","endpoints":[]}`,
		"short PSK":         `{"v":1,"key":"nodepub:` + newKey(t).String() + `","vtep":"fd00::1","psk":"AAEC","endpoints":[]}`,
		"plain with a PSK":  `{"v":1,"vxlan":"192.0.2.1:4789","psk":"` + strings.Repeat("AQ", 21) + `AQ==","endpoints":[]}`,
		"port zero":         `{"v":1,"vxlan":"192.0.2.1:0","endpoints":[]}`,
		"multicast MAC":     `{"v":1,"vxlan":"192.0.2.1:4789","endpoints":[{"net":"blue","ip":"10.0.0.1","mac":"01:00:5e:00:00:01"}]}`,
		"bad network name":  `{"v":1,"vxlan":"192.0.2.1:4789","endpoints":[{"net":"Blue!","ip":"10.0.0.1","mac":"02:00:00:00:00:01"}]}`,
		"version zero":      `{"vxlan":"192.0.2.1:4789","endpoints":[]}`,
		"not JSON":          `{`,
		"too many (33 eps)": `{"v":1,"vxlan":"192.0.2.1:4789","endpoints":[` + strings.Repeat(`{"net":"b","ip":"10.0.0.1","mac":"02:00:00:00:00:01"},`, 32) + `{"net":"b","ip":"10.0.0.1","mac":"02:00:00:00:00:01"}]}`,
	}
	for name, v := range cases {
		if p, err := DecodeStatic(gossip.Entry{Key: "peer", Owner: "a", Value: []byte(v)}); err == nil {
			t.Errorf("%s: accepted %+v", name, p)
		}
	}
	if _, err := DecodeStatic(gossip.Entry{Key: "Not A Name", Value: []byte(`{"v":1,"vxlan":"192.0.2.1:4789","endpoints":[]}`)}); err == nil {
		t.Error("a peer named like no node accepted")
	}
}

func TestResolveStatic(t *testing.T) {
	r := router(t)
	other := r
	other.WG = netip.MustParseAddrPort("192.0.2.21:51820")
	memberKey := newKey(t)
	metaOf := func(k keydist.NodePublic) []byte {
		b, _ := Meta{VXLAN: netip.MustParseAddrPort("192.0.2.1:4789"), Key: k, WG: netip.MustParseAddrPort("192.0.2.1:51820")}.Encode()
		return b
	}
	members := []gossip.Member{{Name: "a", State: gossip.StateAlive, Meta: metaOf(memberKey)}, {Name: "gone", State: gossip.StateFailed}}
	never := func(keydist.NodePublic) bool { return false }

	t.Run("one definition from two sponsors is one peer", func(t *testing.T) {
		got, problems := ResolveStatic([]gossip.Entry{staticEntry(t, r, "b", 5), staticEntry(t, r, "a", 9)}, members, never)
		if len(got) != 1 || !reflect.DeepEqual(got[0].Sponsors, []string{"a", "b"}) || len(problems) != 0 {
			t.Fatalf("%+v %v", got, problems)
		}
	})
	t.Run("sponsors that disagree: the earliest wins and the rest is reported", func(t *testing.T) {
		got, problems := ResolveStatic([]gossip.Entry{staticEntry(t, other, "a", 9), staticEntry(t, r, "b", 5)}, members, never)
		if len(got) != 1 || got[0].WG != r.WG || !reflect.DeepEqual(got[0].Sponsors, []string{"b"}) {
			t.Fatalf("%+v", got)
		}
		if len(problems) != 1 || !strings.Contains(problems[0], `static peer "router": a's definition differs from b's, which is used`) {
			t.Fatalf("problems %q", problems)
		}
	})
	clashes := []struct {
		name  string
		peer  func() StaticPeer
		extra []gossip.Entry
		want  string
	}{
		{"a member's name, even a failed one", func() StaticPeer { p := r; p.Name = "gone"; return p }, nil, "a cluster member has this name"},
		{"a member's key", func() StaticPeer { p := r; p.Key, p.VTEP = memberKey, keydist.VTEP(newKey(t)); return p }, nil, "its public key is member a's"},
		{"a member's VTEP", func() StaticPeer { p := r; p.VTEP = keydist.VTEP(memberKey); return p }, nil, "is member a's"},
		{"another static peer's VTEP", func() StaticPeer { p := r; p.Name = "second"; p.Key = newKey(t); return p },
			[]gossip.Entry{staticEntry(t, r, "c", 1)}, `static peer "second" (from [b]) is ignored: its VTEP`},
	}
	for _, c := range clashes {
		t.Run(c.name, func(t *testing.T) {
			rows := append([]gossip.Entry{staticEntry(t, c.peer(), "b", 2)}, c.extra...)
			got, problems := ResolveStatic(rows, members, never)
			if len(got) != len(c.extra) || len(problems) != 1 || !strings.Contains(problems[0], c.want) {
				t.Fatalf("peers %+v, problems %q; want one problem with %q", got, problems, c.want)
			}
		})
	}
	t.Run("an evicted key", func(t *testing.T) {
		got, problems := ResolveStatic([]gossip.Entry{staticEntry(t, r, "b", 2)}, members, func(k keydist.NodePublic) bool { return k == r.Key })
		if len(got) != 0 || len(problems) != 1 || !strings.Contains(problems[0], "its key was evicted") {
			t.Fatalf("an evicted static peer resolved: %+v %q", got, problems)
		}
	})
}

func TestOnNetworks(t *testing.T) {
	r := router(t) // on red
	k := StaticPeer{Name: "kernel", Endpoints: []StaticEndpoint{{Network: "blue"}}}
	on := func(names ...string) func(string) bool {
		return func(n string) bool { return slices.Contains(names, n) }
	}
	if got := OnNetworks([]StaticPeer{r, k}, on("red")); len(got) != 1 || got[0].Name != "router" {
		t.Fatalf("on red: %+v", got)
	}
	if got := OnNetworks([]StaticPeer{r, k}, on("green")); len(got) != 0 {
		t.Fatalf("on green: %+v", got)
	}
}

func TestStaticEndpoints(t *testing.T) {
	r := router(t)
	r.Endpoints = append(r.Endpoints, StaticEndpoint{Network: "red", IP: netip.MustParseAddr("10.9.0.1"), MAC: macB},
		StaticEndpoint{Network: "blue", IP: netip.MustParseAddr("10.1.0.1"), MAC: macB})
	red := def("red", 10, "10.0.0.0/24", "a", 1)
	red.Encrypted = true
	got, problems := StaticEndpoints([]StaticPeer{r}, red, map[string]bool{"router": true})
	want := []routing.Endpoint{{MAC: macC, IP: netip.MustParseAddr("10.0.0.200"), Node: "router"}, {MAC: macA, IP: netip.MustParseAddr("10.0.0.9"), Node: "router"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("endpoints %+v, want %+v", got, want)
	}
	if len(problems) != 1 || !strings.Contains(problems[0], "10.9.0.1 is outside network red's subnet 10.0.0.0/24") {
		t.Fatalf("problems %q", problems)
	}
	if got, _ := StaticEndpoints([]StaticPeer{r}, red, map[string]bool{}); len(got) != 0 {
		t.Fatalf("endpoints of an unpaired peer: %+v", got)
	}
	plainRed := red
	plainRed.Encrypted = false
	if got, problems := StaticEndpoints([]StaticPeer{r}, plainRed, nil); len(got) != 0 || !strings.Contains(problems[0], "network red is plain but the peer is encrypted") {
		t.Fatalf("an encrypted peer on a plain network: %+v %q", got, problems)
	}
}
