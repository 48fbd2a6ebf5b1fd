package tun

import (
	"errors"
	"net/netip"
	"sync"
	"testing"

	"meshnet.dev/meshnet/internal/packet"
)

func TestFakeLinksRecordsLinkState(t *testing.T) {
	var f FakeLinks // the zero value works
	f.AddLink("mn0", 1500)
	p := netip.MustParsePrefix("10.1.0.5/24")
	mac := packet.MAC{2, 0, 0, 0, 0, 9}
	for _, err := range []error{
		f.SetMTU("mn0", 1370),
		f.AddAddress("mn0", p),
		f.AddAddress("mn0", p), // twice is fine, recorded once
		f.AddAddress("mn0", netip.MustParsePrefix("fd00::5/64")),
		f.SetHardwareAddr("mn0", mac),
		f.SetUp("mn0"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	l, ok := f.Link("mn0")
	if !ok || l.MTU != 1370 || l.MAC != mac || !l.Up || len(l.Addrs) != 2 || l.Addrs[0] != p {
		t.Fatalf("Link = %+v, %v", l, ok)
	}
	l.Addrs[0] = netip.Prefix{} // a copy: must not change the record
	if again, _ := f.Link("mn0"); again.Addrs[0] != p {
		t.Fatal("Link returned shared state")
	}
	if ok, err := f.LinkExists("mn0"); !ok || err != nil {
		t.Fatalf("LinkExists = %v, %v", ok, err)
	}
	if err := f.DeleteLink("mn0"); err != nil {
		t.Fatal(err)
	}
	if err := f.DeleteLink("mn0"); err != nil {
		t.Fatalf("deleting a missing link = %v, want nil", err)
	}
	if ok, _ := f.LinkExists("mn0"); ok {
		t.Fatal("link still exists after DeleteLink")
	}
}

func TestFakeLinksMissingLink(t *testing.T) {
	f := NewFakeLinks()
	for name, err := range map[string]error{
		"SetMTU":          f.SetMTU("nope", 1400),
		"AddAddress":      f.AddAddress("nope", netip.MustParsePrefix("10.0.0.1/8")),
		"SetHardwareAddr": f.SetHardwareAddr("nope", packet.MAC{2}),
		"SetUp":           f.SetUp("nope"),
	} {
		if !errors.Is(err, ErrNoLink) {
			t.Errorf("%s on a missing link = %v, want ErrNoLink", name, err)
		}
	}
}

func TestFakeLinksRouteMTU(t *testing.T) {
	f := NewFakeLinks()
	f.AddLink("eth0", 1500)
	f.AddLink("wan", 9000)
	f.AddRoute(netip.MustParsePrefix("0.0.0.0/0"), "eth0")
	f.AddRoute(netip.MustParsePrefix("192.0.2.0/24"), "wan")
	f.SetRouteMTU(netip.MustParsePrefix("198.51.100.0/24"), 1280)
	f.AddRoute(netip.MustParsePrefix("198.51.100.7/32"), "wan")
	f.SetRouteMTU(netip.MustParsePrefix("198.51.100.7/32"), 1400)

	for dst, want := range map[string]int{
		"203.0.113.9":    1500, // default route: the link's MTU
		"192.0.2.10":     9000, // longer prefix wins
		"198.51.100.3":   1280, // route MTU without a link
		"198.51.100.7":   1400, // route MTU beats the link's
		"::ffff:1.2.3.4": 0,    // no IPv6 route
	} {
		got, err := f.RouteMTU(netip.MustParseAddr(dst))
		if want == 0 {
			if !errors.Is(err, ErrNoRoute) {
				t.Errorf("RouteMTU(%s) = %d, %v; want ErrNoRoute", dst, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("RouteMTU(%s) = %d, %v; want %d", dst, got, err, want)
		}
	}
	f.AddRoute(netip.MustParsePrefix("100.64.0.0/10"), "gone")
	if _, err := f.RouteMTU(netip.MustParseAddr("100.64.0.1")); !errors.Is(err, ErrNoLink) {
		t.Errorf("route via a missing link = %v, want ErrNoLink", err)
	}
}

func TestFakeLinksConcurrentUse(t *testing.T) {
	f := NewFakeLinks()
	f.AddLink("mn0", 1500)
	f.AddRoute(netip.MustParsePrefix("10.0.0.0/8"), "mn0")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				_ = f.SetMTU("mn0", 1300+i+j)
				_ = f.AddAddress("mn0", netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, byte(i), byte(j)}), 24))
				_, _ = f.RouteMTU(netip.MustParseAddr("10.1.2.3"))
				_, _ = f.Link("mn0")
			}
		})
	}
	wg.Wait()
	if l, _ := f.Link("mn0"); len(l.Addrs) != 800 {
		t.Fatalf("recorded %d addresses, want 800", len(l.Addrs))
	}
}
