package node

import (
	"fmt"
	"net/netip"

	"meshnet.dev/meshnet/internal/packet"
)

// A network with a bridge (networks[].bridge) puts its TAP device into a
// Linux bridge and gives the node's address to the bridge, so the host,
// the TAP and the containers' veths (meshnet-cni) are one Ethernet
// segment. The bridge takes the node's interface MAC, so the endpoint the
// node publishes for itself stays right whatever ports join. The bridge
// outlives the daemon: containers keep their local segment across a
// restart, and the new TAP joins the same bridge.

// ifname is the interface that holds the node's address on the network.
func (a *attachment) ifname() string {
	if a.bridge != "" {
		return a.bridge
	}
	return a.device
}

// joinBridge creates bridge if missing and enslaves device to it.
func (n *Node) joinBridge(bridge, device string, mac packet.MAC) error {
	if bridge == "" || n.opts.NewDevice != nil {
		return nil
	}
	if err := n.links.EnsureBridge(bridge, mac); err != nil {
		return fmt.Errorf("bridge %s: %w", bridge, err)
	}
	if err := n.links.SetMaster(device, bridge); err != nil {
		return fmt.Errorf("bridge %s: %w", bridge, err)
	}
	return nil
}

// leaveBridge removes the node's address from the bridge once the network
// is detached; the bridge and the containers on it stay.
func (n *Node) leaveBridge(a *attachment) {
	if a.bridge == "" || !a.addr.IsValid() || n.opts.NewDevice != nil {
		return
	}
	if err := n.links.DelAddress(a.bridge, netip.PrefixFrom(a.addr, a.def.Subnet.Bits())); err != nil {
		n.log.Warn("removing the node's address from the bridge", "bridge", a.bridge, "err", err)
	}
}

// dropStaleBridgeAddress removes an address in the network's subnet that a
// previous run left on the bridge (a crash skips leaveBridge) when the node
// now settles on another one.
func (n *Node) dropStaleBridgeAddress(a *attachment, addr netip.Addr) {
	if a.bridge == "" || n.opts.NewDevice != nil || n.spec.Userspace {
		return
	}
	old := deviceAddress(a.bridge, a.def.Subnet)
	if !old.IsValid() || old == addr || old == a.addr {
		return
	}
	if err := n.links.DelAddress(a.bridge, netip.PrefixFrom(old, a.def.Subnet.Bits())); err != nil {
		n.log.Warn("removing a stale address from the bridge", "bridge", a.bridge, "address", old, "err", err)
	}
}
