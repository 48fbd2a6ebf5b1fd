package config

import (
	"crypto/sha256"
	"errors"
	"net"

	"meshnet.dev/meshnet/internal/packet"
)

// InterfaceMAC is the MAC of a node's own interface on a network: a locally
// administered unicast address derived from the node and network names, so
// it is stable across restarts. It is never derived from an IP address: IPs
// are reused, and an IP-derived MAC would leave stale forwarding entries
// pointing at whoever held the address before.
func InterfaceMAC(node, network string) packet.MAC {
	h := sha256.Sum256([]byte("meshnet interface mac\x00" + node + "\x00" + network))
	var m packet.MAC
	copy(m[:], h[:6])
	m[0] = m[0]&0xfe | 0x02
	return m
}

// ParseMAC parses a unicast Ethernet address.
func ParseMAC(s string) (packet.MAC, error) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return packet.MAC{}, errors.New("not an Ethernet MAC address")
	}
	m := packet.MAC(hw)
	if packet.IsMulticast(m) || packet.IsZero(m) {
		return packet.MAC{}, errors.New("not a unicast MAC address")
	}
	return m, nil
}

// FormatMAC prints m as aa:bb:cc:dd:ee:ff.
func FormatMAC(m packet.MAC) string { return net.HardwareAddr(m[:]).String() }
