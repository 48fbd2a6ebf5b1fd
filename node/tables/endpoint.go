package tables

import (
	"errors"
	"net"
	"net/netip"
	"strings"

	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/internal/packet"
	"meshnet.dev/meshnet/routing"
)

// Endpoint entries live in each network's endpoints table. The key says it
// all, "<mac>/<ip>" (ip empty when only the MAC is known), so the value is
// empty and a key is exactly one endpoint of its owner.

// EndpointKey is the key of endpoint (mac, ip) in its network's table.
func EndpointKey(mac packet.MAC, ip netip.Addr) string {
	k := macString(mac) + "/"
	if ip.IsValid() {
		k += ip.String()
	}
	return k
}

var errBadEndpoint = errors.New("malformed endpoint entry")

// DecodeEndpoint parses an endpoint entry from the network; its owner is
// the endpoint's node.
func DecodeEndpoint(e gossip.Entry, subnet netip.Prefix) (routing.Endpoint, error) {
	macStr, ipStr, ok := strings.Cut(e.Key, "/")
	if !ok || len(e.Value) != 0 {
		return routing.Endpoint{}, errBadEndpoint
	}
	mac, err := parseMAC(macStr)
	if err != nil {
		return routing.Endpoint{}, errBadEndpoint
	}
	ep := routing.Endpoint{MAC: mac, Node: e.Owner}
	if ipStr != "" {
		ip, err := netip.ParseAddr(ipStr)
		if err != nil || !subnet.Contains(ip) {
			return routing.Endpoint{}, errBadEndpoint
		}
		ep.IP = ip
	}
	return ep, nil
}

// macString prints mac as aa:bb:cc:dd:ee:ff.
func macString(mac packet.MAC) string { return net.HardwareAddr(mac[:]).String() }

// parseMAC parses a unicast, non-zero Ethernet address.
func parseMAC(s string) (packet.MAC, error) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return packet.MAC{}, errBadEndpoint
	}
	mac := packet.MAC(hw)
	if packet.IsMulticast(mac) || packet.IsZero(mac) {
		return packet.MAC{}, errBadEndpoint
	}
	return mac, nil
}
