package tables

import (
	"net/netip"

	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/routing"
)

// Claims lists the well-formed address block claims in a network's ipam
// table: blocks of the network's block size inside its subnet.
func Claims(subnet netip.Prefix, entries []gossip.Entry) []routing.Claim {
	var out []routing.Claim
	for _, e := range entries {
		b, err := netip.ParsePrefix(e.Key)
		if err != nil || b != b.Masked() || b.Bits() != routing.BlockBits(subnet) || !subnet.Contains(b.Addr()) {
			continue
		}
		out = append(out, routing.Claim{Block: b, Owner: e.Owner, LTime: e.LTime})
	}
	return out
}

// Reclaimable reports whether self may claim block b again, the block it
// held on the network before a restart: it must still fit the subnet, no
// other node may hold it, and no endpoint may use an address in it other
// than the one self had.
func Reclaimable(b, subnet netip.Prefix, self string, won map[netip.Prefix]routing.Claim, used []netip.Addr) bool {
	if b.Bits() != routing.BlockBits(subnet) || !subnet.Contains(b.Addr()) {
		return false
	}
	if w, taken := won[b]; taken && w.Owner != self {
		return false
	}
	for _, u := range used {
		if b.Contains(u) && u != routing.BlockAddress(b) {
			return false
		}
	}
	return true
}

// FreeVIP picks a VIP for a new service: the highest address of the subnet
// that is not in use and lies in no claimed address block, so VIPs and
// node addresses grow from opposite ends of the subnet.
func FreeVIP(subnet netip.Prefix, ipam []gossip.Entry, inUse func(netip.Addr) bool) (netip.Addr, bool) {
	claimed := map[netip.Prefix]bool{}
	for _, e := range ipam {
		if b, err := netip.ParsePrefix(e.Key); err == nil {
			claimed[b] = true
		}
	}
	bits := routing.BlockBits(subnet)
	for ip := routing.LastAddress(subnet).Prev(); subnet.Contains(ip) && ip != subnet.Addr(); ip = ip.Prev() {
		if inUse(ip) {
			continue
		}
		if b, _ := ip.Prefix(bits); claimed[b] {
			continue
		}
		return ip, true
	}
	return netip.Addr{}, false
}
