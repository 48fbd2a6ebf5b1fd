package endpoints

import "net/netip"

// Allocate returns the lowest free address of the blocks: inside subnet,
// neither the subnet's network nor (IPv4) broadcast address, not the
// node's own address of the block (its first host address), and not used.
func Allocate(subnet netip.Prefix, blocks []netip.Prefix, used func(netip.Addr) bool) (netip.Addr, error) {
	last := lastAddress(subnet)
	for _, b := range blocks {
		b = b.Masked()
		if !subnet.Contains(b.Addr()) {
			continue
		}
		self := b.Addr().Next()
		for ip := b.Addr(); ip.IsValid() && b.Contains(ip); ip = ip.Next() {
			if ip == subnet.Masked().Addr() || ip == self || (ip.Is4() && ip == last) || used(ip) {
				continue
			}
			return ip, nil
		}
	}
	return netip.Addr{}, ErrFull
}

// lastAddress is the highest address of p.
func lastAddress(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
