package tun

import "sync/atomic"

// DropReason says why a device refused a frame or packet. Its String is a
// stable, metrics-friendly label.
type DropReason uint8

// Reasons a TUN device drops traffic. The zero value means "not dropped".
const (
	// DropNone means the frame was accepted.
	DropNone DropReason = iota
	// DropRunt: shorter than an Ethernet header plus a minimal IP header.
	DropRunt
	// DropARP: ARP means nothing to an L3 device; the forwarder answers ARP
	// for the kernel itself.
	DropARP
	// DropEtherType: neither IPv4 nor IPv6 (VLAN-tagged frames included).
	DropEtherType
	// DropDstMAC: unicast to a MAC that is not the device's own.
	DropDstMAC
	// DropIPVersion: the IP version nibble does not match the EtherType.
	DropIPVersion
	// DropNotIP: the kernel handed over a packet that is neither IPv4 nor
	// IPv6, or is shorter than its IP header (read side).
	DropNotIP
	// DropSegments: a segmentation-offload packet from the kernel had more
	// segments than the read had buffers and the excess was lost (read
	// side). Kernel devices now keep such segments for the next Read, so
	// this stays zero; the label stays for the metrics that show it.
	DropSegments
	// DropTruncated: a packet from the kernel did not fit its read buffer,
	// which must hold offset+EthHeaderLen+MTU bytes (read side).
	DropTruncated
	// DropBadOffload: a frame's virtio-net header asked for segmentation or
	// a checksum that does not match the frame (read side).
	DropBadOffload

	numDropReasons
)

// String returns the reason's metrics label.
func (r DropReason) String() string {
	switch r {
	case DropNone:
		return "none"
	case DropRunt:
		return "runt"
	case DropARP:
		return "arp"
	case DropEtherType:
		return "ethertype"
	case DropDstMAC:
		return "dst_mac"
	case DropIPVersion:
		return "ip_version"
	case DropNotIP:
		return "not_ip"
	case DropSegments:
		return "segments"
	case DropTruncated:
		return "truncated"
	case DropBadOffload:
		return "bad_offload"
	}
	return "unknown"
}

// dropCounters counts drops per reason; safe for concurrent use.
type dropCounters [numDropReasons]atomic.Uint64

func (c *dropCounters) add(r DropReason, n uint64) { c[r].Add(n) }

// snapshot returns every reason except DropNone, zeros included, so metric
// series exist from the start.
func (c *dropCounters) snapshot() map[string]uint64 {
	m := make(map[string]uint64, numDropReasons-1)
	for r := DropRunt; r < numDropReasons; r++ {
		m[r.String()] = c[r].Load()
	}
	return m
}
