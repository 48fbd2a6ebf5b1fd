package dockerdriver

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
)

// Netlink is the real Veths.
type Netlink struct{}

var _ Veths = Netlink{}

// Create implements Veths.
func (Netlink) Create(host, peer string, mac net.HardwareAddr, mtu int, bridge string) error {
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return fmt.Errorf("bridge %q of the network: %w", bridge, err)
	}
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: host, MTU: mtu, MasterIndex: br.Attrs().Index},
		PeerName: peer, PeerHardwareAddr: mac}
	if err := netlink.LinkAdd(v); err != nil {
		return fmt.Errorf("creating veth %s: %w", host, err)
	}
	l, err := netlink.LinkByName(host)
	if err == nil {
		err = netlink.LinkSetUp(l)
	}
	if err != nil {
		netlink.LinkDel(v)
		return fmt.Errorf("bringing %s up: %w", host, err)
	}
	if p, err := netlink.LinkByName(peer); err == nil && mtu > 0 {
		netlink.LinkSetMTU(p, mtu)
	}
	return nil
}

// Delete implements Veths.
func (Netlink) Delete(host string) error {
	l, err := netlink.LinkByName(host)
	if errors.As(err, new(netlink.LinkNotFoundError)) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := netlink.LinkDel(l); err != nil {
		return fmt.Errorf("removing veth %s: %w", host, err)
	}
	return nil
}
