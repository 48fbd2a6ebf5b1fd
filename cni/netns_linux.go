package cni

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ip"
	"github.com/containernetworking/plugins/pkg/ipam"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
)

// Netns is the real Links: namespaces through the CNI project's pkg/ns,
// the veth pair through pkg/ip, addresses and routes through pkg/ipam.
type Netns struct{}

var _ Links = Netns{}

// Setup implements Links.
func (Netns) Setup(netnsPath, ifname, hostName string, mac net.HardwareAddr, mtu int, bridge string, res *current.Result) error {
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return fmt.Errorf("bridge %q of the network: %w (is the daemon's networks[].bridge set?)", bridge, err)
	}
	// A host end left by an interrupted ADD would block the new pair.
	if err := ip.DelLinkByName(hostName); err != nil && !errors.Is(err, ip.ErrLinkNotFound) {
		return fmt.Errorf("removing stale %s: %w", hostName, err)
	}
	netns, err := ns.GetNS(netnsPath)
	if err != nil {
		return fmt.Errorf("opening namespace %s: %w", netnsPath, err)
	}
	defer netns.Close()
	err = netns.Do(func(hostNS ns.NetNS) error {
		if _, _, err := ip.SetupVethWithName(ifname, hostName, mtu, mac.String(), hostNS); err != nil {
			return err
		}
		if err := ipam.ConfigureIface(ifname, res); err != nil {
			_ = ip.DelLinkByName(ifname)
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	host, err := netlink.LinkByName(hostName)
	if err == nil {
		err = netlink.LinkSetMaster(host, br)
	}
	if err != nil {
		_ = netns.Do(func(ns.NetNS) error { return ip.DelLinkByName(ifname) })
		return fmt.Errorf("adding %s to bridge %s: %w", hostName, bridge, err)
	}
	return nil
}

// Teardown implements Links.
func (Netns) Teardown(netnsPath, ifname string) error {
	err := ns.WithNetNSPath(netnsPath, func(ns.NetNS) error {
		if err := ip.DelLinkByName(ifname); err != nil && !errors.Is(err, ip.ErrLinkNotFound) {
			return err
		}
		return nil
	})
	var gone ns.NSPathNotExistErr
	if errors.As(err, &gone) {
		return nil
	}
	return err
}

// Check implements Links.
func (Netns) Check(netnsPath, ifname string, mac net.HardwareAddr, addr netip.Prefix) error {
	return ns.WithNetNSPath(netnsPath, func(ns.NetNS) error {
		l, err := netlink.LinkByName(ifname)
		if err != nil {
			return fmt.Errorf("interface %s: %w", ifname, err)
		}
		if l.Attrs().HardwareAddr.String() != mac.String() {
			return fmt.Errorf("interface %s has MAC %s, want %s", ifname, l.Attrs().HardwareAddr, mac)
		}
		addrs, err := netlink.AddrList(l, netlink.FAMILY_ALL)
		if err != nil {
			return fmt.Errorf("addresses of %s: %w", ifname, err)
		}
		for _, a := range addrs {
			if p, ok := netip.AddrFromSlice(a.IP); ok && p.Unmap() == addr.Addr() {
				if ones, _ := a.Mask.Size(); ones == addr.Bits() {
					return nil
				}
			}
		}
		return fmt.Errorf("interface %s lacks address %s", ifname, addr)
	})
}
