package tun

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"

	"meshnet.dev/meshnet/internal/packet"
)

// The host kernel may lack the dummy module, so a veth pair stands in for a
// plain link.
func addVeth(t *testing.T, ns *testNS, name, peer string) {
	t.Helper()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peer}
	if err := ns.links.h.LinkAdd(veth); err != nil {
		t.Fatalf("add veth %s: %v", name, err)
	}
}

func TestNetlinkConfiguresLink(t *testing.T) {
	ns := newTestNS(t)
	n := ns.links
	addVeth(t, ns, "mnv0", "mnv1")
	mac := packet.MAC{0x02, 0x6d, 0x6e, 0x00, 0x02, 0x01}
	v4, v6 := netip.MustParsePrefix("10.96.0.1/24"), netip.MustParsePrefix("fd00:96::1/64")
	for _, err := range []error{
		n.SetMTU("mnv0", 1450),
		n.SetHardwareAddr("mnv0", mac),
		n.AddAddress("mnv0", v4),
		n.AddAddress("mnv0", v4), // again, as after a restart
		n.AddAddress("mnv0", v6),
		n.SetUp("mnv0"),
		n.SetUp("mnv1"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	l, err := n.h.LinkByName("mnv0")
	if err != nil {
		t.Fatal(err)
	}
	a := l.Attrs()
	if a.MTU != 1450 || a.HardwareAddr.String() != formatMAC(mac) || a.Flags&net.FlagUp == 0 {
		t.Fatalf("link = mtu %d mac %s flags %v", a.MTU, a.HardwareAddr, a.Flags)
	}
	addrs, err := n.h.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	found := map[netip.Prefix]bool{}
	for _, ad := range addrs {
		ip, _ := netip.AddrFromSlice(ad.IP)
		ones, _ := ad.Mask.Size()
		found[netip.PrefixFrom(ip.Unmap(), ones)] = true
	}
	if !found[v4] || !found[v6] {
		t.Fatalf("addresses = %v, want %s and %s", addrs, v4, v6)
	}

	if ok, err := n.LinkExists("mnv0"); !ok || err != nil {
		t.Fatalf("LinkExists = %v, %v", ok, err)
	}
	if err := n.SetMTU("mnnope", 1400); !errors.Is(err, ErrNoLink) {
		t.Errorf("SetMTU on a missing link = %v, want ErrNoLink", err)
	}
	if err := n.DeleteLink("mnv0"); err != nil {
		t.Fatal(err)
	}
	if err := n.DeleteLink("mnv0"); err != nil {
		t.Errorf("deleting a missing link = %v, want nil", err)
	}
	if ok, err := n.LinkExists("mnv0"); ok || err != nil {
		t.Fatalf("LinkExists after delete = %v, %v", ok, err)
	}
}

func TestNetlinkRouteMTU(t *testing.T) {
	ns := newTestNS(t)
	n := ns.links
	addVeth(t, ns, "mnv0", "mnv1")
	for _, err := range []error{
		n.SetMTU("mnv0", 1450),
		n.AddAddress("mnv0", netip.MustParsePrefix("10.96.0.1/24")),
		n.AddAddress("mnv0", netip.MustParsePrefix("fd00:96::1/64")),
		n.SetUp("mnv0"),
		n.SetUp("mnv1"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	ns.do(t, func() {
		ns.ip(t, "route", "add", "10.95.0.0/24", "dev", "mnv0", "mtu", "1300")
		ns.ip(t, "-6", "route", "add", "fd00:95::/64", "dev", "mnv0", "mtu", "1280")
	})
	for dst, want := range map[string]int{
		"10.96.0.5":        1450, // connected route: the link's MTU
		"10.95.0.5":        1300, // the route's own MTU
		"fd00:95::5":       1280,
		"::ffff:10.95.0.5": 1300, // a mapped address is treated as IPv4
	} {
		got, err := n.RouteMTU(netip.MustParseAddr(dst))
		if err != nil || got != want {
			t.Errorf("RouteMTU(%s) = %d, %v; want %d", dst, got, err, want)
		}
	}
	// Nothing routes to the documentation range in an empty namespace.
	if got, err := n.RouteMTU(netip.MustParseAddr("192.0.2.1")); err == nil {
		t.Errorf("RouteMTU without a route = %d, want an error", got)
	}
}

func TestNetlinkInCurrentNamespace(t *testing.T) {
	ns := newTestNS(t)
	addVeth(t, ns, "mnv0", "mnv1")
	ns.do(t, func() {
		n := NewNetlink()
		defer n.Close()
		if ok, err := n.LinkExists("mnv0"); !ok || err != nil {
			t.Fatalf("LinkExists from inside the namespace = %v, %v", ok, err)
		}
		if err := n.SetMTU("mnv0", 1420); err != nil {
			t.Fatal(err)
		}
	})
	l, err := ns.links.h.LinkByName("mnv0")
	if err != nil || l.Attrs().MTU != 1420 {
		t.Fatalf("link after SetMTU = %v, %v", l, err)
	}
}
