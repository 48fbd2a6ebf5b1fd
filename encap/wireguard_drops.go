package encap

import "sync/atomic"

// WGDropReason says why the wireguard transport discarded a packet that
// WireGuard had decrypted and authenticated. Its String is a stable,
// metrics-friendly label.
type WGDropReason uint8

// Reasons the wireguard transport drops a decrypted packet. The zero value
// means "not dropped".
const (
	// WGDropNone means the packet was accepted.
	WGDropNone WGDropReason = iota
	// WGDropNotIPv6: the IP version is not 6 (a peer may tunnel IPv4 if
	// its allowed IPs say so, but meshnet only speaks VXLAN over IPv6).
	WGDropNotIPv6
	// WGDropTruncated: shorter than an IPv6 header, or an IPv6 payload
	// shorter than a UDP header.
	WGDropTruncated
	// WGDropBadLength: the IPv6 payload length runs past the packet, or
	// the UDP length disagrees with it.
	WGDropBadLength
	// WGDropNotUDP: the next header is not UDP (extension headers
	// included: VXLAN peers never send them).
	WGDropNotUDP
	// WGDropWrongPort: UDP to a port other than VXLAN's 4789.
	WGDropWrongPort
	// WGDropNotForUs: the destination is not this node's VTEP (a peer
	// with a stale view of it, e.g. right after a key rotation).
	WGDropNotForUs
	// WGDropNotStarted: the packet arrived before Start.
	WGDropNotStarted

	numWGDropReasons
)

// String returns the reason's metrics label.
func (r WGDropReason) String() string {
	switch r {
	case WGDropNone:
		return "none"
	case WGDropNotIPv6:
		return "not_ipv6"
	case WGDropTruncated:
		return "truncated"
	case WGDropBadLength:
		return "bad_length"
	case WGDropNotUDP:
		return "not_udp"
	case WGDropWrongPort:
		return "wrong_port"
	case WGDropNotForUs:
		return "not_for_us"
	case WGDropNotStarted:
		return "not_started"
	}
	return "unknown"
}

// wgDropCounters counts drops per reason; safe for concurrent use.
type wgDropCounters [numWGDropReasons]atomic.Uint64

// snapshot returns every reason except WGDropNone, zeros included, so
// metric series exist from the start.
func (c *wgDropCounters) snapshot() map[string]uint64 {
	m := make(map[string]uint64, numWGDropReasons-1)
	for r := WGDropNone + 1; r < numWGDropReasons; r++ {
		m[r.String()] = c[r].Load()
	}
	return m
}

// total is the sum over all reasons.
func (c *wgDropCounters) total() uint64 {
	var n uint64
	for r := WGDropNone + 1; r < numWGDropReasons; r++ {
		n += c[r].Load()
	}
	return n
}
