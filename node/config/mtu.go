package config

// Encapsulation overhead on top of the inner IP packet. Plain: inner
// Ethernet (14), VXLAN (8), UDP (8), outer IP (20 or 40). Encrypted: the
// tunnelled IPv6 (40) and UDP (8) headers, VXLAN (8), inner Ethernet (14),
// and WireGuard's own 32 bytes plus its outer UDP (8) and IP (20 or 40).
const (
	overheadPlain4     = 14 + 8 + 8 + 20
	overheadPlain6     = 14 + 8 + 8 + 40
	overheadEncrypted4 = 14 + 8 + 8 + 40 + 32 + 8 + 20
	overheadEncrypted6 = 14 + 8 + 8 + 40 + 32 + 8 + 40
)

// Overhead is what encapsulation adds to a network's frames: a network's
// MTU is its path's MTU minus this (the default a network's mtu key
// overrides).
func Overhead(encrypted, underlayV6 bool) int {
	switch {
	case encrypted && underlayV6:
		return overheadEncrypted6
	case encrypted:
		return overheadEncrypted4
	case underlayV6:
		return overheadPlain6
	}
	return overheadPlain4
}
