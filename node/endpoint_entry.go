package node

import (
	"errors"
	"net"
	"net/netip"
	"strings"

	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/routing"

	"meshnet.dev/meshnet/node/config"
)

// Endpoint entries live in each network's endpoints table. The key says it
// all, "<mac>/<ip>" (ip empty when only the MAC is known), so the value is
// empty and a key is exactly one endpoint of its owner.

func endpointKey(mac routing.MAC, ip netip.Addr) string {
	k := config.FormatMAC(mac) + "/"
	if ip.IsValid() {
		k += ip.String()
	}
	return k
}

var errBadEndpoint = errors.New("malformed endpoint entry")

// decodeEndpoint parses an endpoint entry from the network.
func decodeEndpoint(e gossip.Entry, subnet netip.Prefix) (routing.Endpoint, error) {
	macStr, ipStr, ok := strings.Cut(e.Key, "/")
	if !ok || len(e.Value) != 0 {
		return routing.Endpoint{}, errBadEndpoint
	}
	hw, err := net.ParseMAC(macStr)
	if err != nil || len(hw) != 6 {
		return routing.Endpoint{}, errBadEndpoint
	}
	mac := routing.MAC(hw)
	if routing.IsMulticast(mac) || routing.IsZero(mac) {
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
