package main

import "net/netip"

// Each overlay subject numbers its hosts in a /24 of its own, 10.<n>.0.0/24,
// host A .1 and host B .2, so a leftover address can never be mistaken
// for another subject's.
const (
	vxlanSubnet   = 78
	wgGoSubnet    = 79
	meshnetSubnet = 77
)

// overlayPrefix returns host i's (0: A, 1: B) address in subnet n as a
// /24 prefix.
func overlayPrefix(n byte, i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, n, 0, byte(i + 1)}), 24)
}

// overlaySubnet returns subnet n itself.
func overlaySubnet(n byte) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, n, 0, 0}), 24)
}
