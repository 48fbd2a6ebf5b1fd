package packet

// MAC is an Ethernet hardware address. It is an array, not a slice, so it
// is comparable, a map key and free to copy.
type MAC = [6]byte

// BroadcastMAC returns ff:ff:ff:ff:ff:ff.
func BroadcastMAC() MAC { return MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} }

// IsMulticast reports whether m is a group address: its I/G bit is set.
// Broadcast is a group address too.
func IsMulticast(m MAC) bool { return m[0]&1 == 1 }

// IsBroadcast reports whether m is ff:ff:ff:ff:ff:ff.
func IsBroadcast(m MAC) bool { return m == BroadcastMAC() }

// IsZero reports whether m is the all-zero address, which no endpoint
// uses (the TUN device marks a frame for an unknown neighbour with it).
func IsZero(m MAC) bool { return m == MAC{} }
