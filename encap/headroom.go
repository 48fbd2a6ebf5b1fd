package encap

const (
	// Headroom is the space every buffer on the data path leaves in front of
	// an Ethernet frame, so that any transport can prepend its headers in
	// place: VXLAN (8) + UDP (8) + IPv6 (40) + WireGuard's transport header
	// (16), rounded up to a cache line. Devices read frames at this offset.
	Headroom = 128

	// MaxPacket bounds one buffer on the data path: a 64 KiB segment plus
	// headroom, the largest a device or socket hands us with offloads on.
	MaxPacket = 65535 + Headroom

	// maxUDPSegments is the kernel's limit of datagrams per UDP GSO send
	// and per GRO message (UDP_MAX_SEGMENTS on older kernels): the most a
	// batch of the UDP bind needs.
	maxUDPSegments = 64
)
