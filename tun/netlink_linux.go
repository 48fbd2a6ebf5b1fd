package tun

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"meshnet.dev/meshnet/internal/packet"
)

// Netlink is the production LinkManager, on rtnetlink.
type Netlink struct {
	h *netlink.Handle
}

var _ LinkManager = (*Netlink)(nil)

// NewNetlink returns a LinkManager acting in the network namespace of the
// calling thread at the time of each call (for a normal process: its own).
// It opens a netlink socket per request and holds nothing; Close is a no-op.
func NewNetlink() *Netlink {
	// The zero Handle opens a socket per request.
	return &Netlink{h: &netlink.Handle{}}
}

// NewNetlinkAt returns a LinkManager bound to the network namespace ns,
// whatever thread calls it. Close releases its sockets.
func NewNetlinkAt(ns netns.NsHandle) (*Netlink, error) {
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("tun: netlink socket in namespace %s: %w", ns, err)
	}
	return &Netlink{h: h}, nil
}

// Close releases the manager's sockets.
func (n *Netlink) Close() { n.h.Close() }

func (n *Netlink) link(name string) (netlink.Link, error) {
	l, err := n.h.LinkByName(name)
	if err != nil {
		if errors.As(err, new(netlink.LinkNotFoundError)) {
			return nil, fmt.Errorf("tun: no interface %q: %w", name, ErrNoLink)
		}
		return nil, fmt.Errorf("tun: look up interface %q: %w", name, err)
	}
	return l, nil
}

// SetMTU implements LinkManager.
func (n *Netlink) SetMTU(name string, mtu int) error {
	l, err := n.link(name)
	if err != nil {
		return err
	}
	if err := n.h.LinkSetMTU(l, mtu); err != nil {
		return fmt.Errorf("tun: set MTU of %q to %d: %w", name, mtu, err)
	}
	return nil
}

// AddAddress implements LinkManager. An address already present is not an
// error, so configuring a device twice (a restart) works.
func (n *Netlink) AddAddress(name string, prefix netip.Prefix) error {
	return n.changeAddr(name, prefix, n.h.AddrAdd, unix.EEXIST, "add", "to")
}

// DelAddress implements LinkManager.
func (n *Netlink) DelAddress(name string, prefix netip.Prefix) error {
	return n.changeAddr(name, prefix, n.h.AddrDel, unix.EADDRNOTAVAIL, "remove", "from")
}

// changeAddr applies change (AddrAdd or AddrDel) to prefix on interface
// name. The error already says the interface is as asked, so it is none.
func (n *Netlink) changeAddr(name string, prefix netip.Prefix, change func(netlink.Link, *netlink.Addr) error,
	already error, verb, prep string) error {
	l, err := n.link(name)
	if err != nil {
		return err
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{
		IP:   prefix.Addr().AsSlice(),
		Mask: net.CIDRMask(prefix.Bits(), prefix.Addr().BitLen()),
	}}
	if err := change(l, addr); err != nil && !errors.Is(err, already) {
		return fmt.Errorf("tun: %s address %s %s %q: %w", verb, prefix, prep, name, err)
	}
	return nil
}

// SetHardwareAddr implements LinkManager.
func (n *Netlink) SetHardwareAddr(name string, mac packet.MAC) error {
	l, err := n.link(name)
	if err != nil {
		return err
	}
	if err := n.h.LinkSetHardwareAddr(l, net.HardwareAddr(mac[:])); err != nil {
		return fmt.Errorf("tun: set MAC of %q to %s: %w", name, formatMAC(mac), err)
	}
	return nil
}

// SetUp implements LinkManager.
func (n *Netlink) SetUp(name string) error {
	l, err := n.link(name)
	if err != nil {
		return err
	}
	if err := n.h.LinkSetUp(l); err != nil {
		return fmt.Errorf("tun: bring %q up: %w", name, err)
	}
	return nil
}

// DeleteLink implements LinkManager.
func (n *Netlink) DeleteLink(name string) error {
	l, err := n.link(name)
	if errors.Is(err, ErrNoLink) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := n.h.LinkDel(l); err != nil {
		return fmt.Errorf("tun: delete interface %q: %w", name, err)
	}
	return nil
}

// LinkExists implements LinkManager.
func (n *Netlink) LinkExists(name string) (bool, error) {
	_, err := n.link(name)
	if errors.Is(err, ErrNoLink) {
		return false, nil
	}
	return err == nil, err
}

// RouteMTU implements LinkManager: it asks the kernel which route it would
// use towards dst and returns that route's MTU metric, else the outgoing
// interface's MTU.
func (n *Netlink) RouteMTU(dst netip.Addr) (int, error) {
	routes, err := n.h.RouteGet(dst.Unmap().AsSlice())
	if err != nil {
		return 0, fmt.Errorf("tun: route towards %s: %w (is the underlay up, with a route to it?)", dst, err)
	}
	if len(routes) == 0 {
		return 0, fmt.Errorf("tun: route towards %s: %w", dst, ErrNoRoute)
	}
	r := routes[0]
	if r.MTU > 0 {
		return r.MTU, nil
	}
	l, err := n.h.LinkByIndex(r.LinkIndex)
	if err != nil {
		return 0, fmt.Errorf("tun: interface %d of the route towards %s: %w", r.LinkIndex, dst, err)
	}
	return l.Attrs().MTU, nil
}

// EnsureBridge implements LinkManager.
func (n *Netlink) EnsureBridge(name string, mac packet.MAC) error {
	l, err := n.link(name)
	if errors.Is(err, ErrNoLink) {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, HardwareAddr: net.HardwareAddr(mac[:])}}
		if err := n.h.LinkAdd(br); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("tun: create bridge %q: %w", name, err)
		}
		l, err = n.link(name)
	}
	if err != nil {
		return err
	}
	if l.Type() != "bridge" {
		return fmt.Errorf("tun: %q exists and is a %s, not a bridge: choose another bridge name", name, l.Type())
	}
	if string(l.Attrs().HardwareAddr) != string(mac[:]) {
		if err := n.h.LinkSetHardwareAddr(l, net.HardwareAddr(mac[:])); err != nil {
			return fmt.Errorf("tun: set MAC of bridge %q: %w", name, err)
		}
	}
	if err := n.h.LinkSetUp(l); err != nil {
		return fmt.Errorf("tun: bring bridge %q up: %w", name, err)
	}
	return nil
}

// SetMaster implements LinkManager.
func (n *Netlink) SetMaster(name, bridge string) error {
	l, err := n.link(name)
	if err != nil {
		return err
	}
	br, err := n.link(bridge)
	if err != nil {
		return err
	}
	if err := n.h.LinkSetMasterByIndex(l, br.Attrs().Index); err != nil {
		return fmt.Errorf("tun: add %q to bridge %q: %w", name, bridge, err)
	}
	return nil
}
