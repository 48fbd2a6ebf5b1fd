package tun

import (
	"net/netip"

	"meshnet.dev/meshnet/internal/packet"
)

// TAPConfig describes a TAP device to create or open.
type TAPConfig struct {
	// Name is the interface name, at most 15 bytes. Empty lets the kernel
	// pick tapN.
	Name string
	// MTU is the L3 MTU to set. 0 keeps the device's current MTU, which is
	// what an unprivileged user opening a persistent device wants: changing
	// it needs CAP_NET_ADMIN.
	MTU int
	// MAC is the device's hardware address, the source of the frames the
	// kernel sends. The zero MAC keeps the kernel's random one. Changing it
	// needs CAP_NET_ADMIN.
	MAC packet.MAC
	// Persist keeps a device this call creates after Close and after the
	// process exits. Off by default so that a crashed daemon, even one killed
	// with SIGKILL, leaves no device behind. Opening a device that is already
	// persistent never clears its persistence.
	Persist bool
	// Owner and Group are the uid and gid allowed to open the device later
	// without CAP_NET_ADMIN; -1 leaves them unset. They apply only when this
	// call creates the device. 0 means root, not "unset".
	Owner, Group int
	// DisableOffload opens the device without the virtio-net header, so the
	// kernel segments and checksums every frame itself and Write does not
	// coalesce: for kernels whose offloads misbehave. It costs throughput.
	DisableOffload bool
	// CoalesceUDP makes Write coalesce equal-sized UDP datagrams of a flow
	// into one super-frame as well as TCP segments, where the kernel takes
	// UDP segmentation offload (Linux 6.2+). Off by default: the kernel
	// cuts such a frame up again for a socket that did not ask for UDP GRO,
	// and the whole burst lands on its receive queue at once, which halved
	// the 64-byte UDP rate iperf3 received in docs/PERFORMANCE.md's lab.
	CoalesceUDP bool
}

// DefaultTAPConfig returns a config for a non-persistent TAP named name that
// keeps the kernel's MTU and MAC and sets no owner or group.
func DefaultTAPConfig(name string) TAPConfig {
	return TAPConfig{Name: name, Owner: -1, Group: -1}
}

// TUNConfig describes an L3 TUN device to create or open. The device carries
// IP packets; meshnet's TUN adds and strips Ethernet headers around them.
type TUNConfig struct {
	// Name is the interface name, at most 15 bytes. Empty lets the kernel
	// pick tunN.
	Name string
	// MTU is the L3 MTU to set; 0 keeps the device's current MTU.
	MTU int
	// MAC is the source of every frame Read returns and the only unicast
	// destination Write accepts. A TUN has no MAC of its own; this is the
	// address the overlay knows this device by. It must be unicast and not
	// zero.
	MAC packet.MAC
	// Prefixes are the device's own addresses with their masks. Packets to
	// the directed broadcast address of an IPv4 prefix get the broadcast MAC.
	Prefixes []netip.Prefix
	// Persist, Owner and Group are as in TAPConfig.
	Persist      bool
	Owner, Group int
	// DisableOffload and CoalesceUDP are as in TAPConfig.
	DisableOffload bool
	CoalesceUDP    bool
}

// DefaultTUNConfig returns a config for a non-persistent TUN named name with
// the given MAC that keeps the kernel's MTU and sets no owner or group.
func DefaultTUNConfig(name string, mac packet.MAC) TUNConfig {
	return TUNConfig{Name: name, MAC: mac, Owner: -1, Group: -1}
}
