package endpoints

import (
	"net/netip"

	"meshnet.dev/meshnet/routing"
)

// Allocate returns the first free address of the blocks after the node's
// own (the block's first host address), wrapping round to the block's
// first address last: inside subnet, neither the subnet's network nor
// (IPv4) broadcast address, and not used.
func Allocate(subnet netip.Prefix, blocks []netip.Prefix, used func(netip.Addr) bool) (netip.Addr, error) {
	last := routing.LastAddress(subnet)
	for _, b := range blocks {
		b = b.Masked()
		if !subnet.Contains(b.Addr()) {
			continue
		}
		self := b.Addr().Next()
		ok := func(ip netip.Addr) bool {
			return ip != subnet.Masked().Addr() && !(ip.Is4() && ip == last) && !used(ip)
		}
		for ip := self.Next(); ip.IsValid() && b.Contains(ip); ip = ip.Next() {
			if ok(ip) {
				return ip, nil
			}
		}
		if ok(b.Addr()) {
			return b.Addr(), nil
		}
	}
	return netip.Addr{}, ErrFull
}
