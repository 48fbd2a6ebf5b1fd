package tun

import "strings"

// Offloads says which virtio-net offloads a kernel device uses. The kernel
// decides: a device asks for each and keeps what the kernel grants, so an
// older kernel simply runs with fewer.
type Offloads struct {
	// VnetHdr: frames carry a virtio-net header, so Write can hand the
	// kernel coalesced TCP super-frames.
	VnetHdr bool
	// TSO: the kernel hands over TCP super-frames and partial checksums,
	// which Read cuts and finishes (TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6).
	TSO bool
	// USO: the same for UDP (TUN_F_USO4, TUN_F_USO6, Linux 6.2+); Write
	// then also coalesces equal-sized UDP datagrams of a flow.
	USO bool
}

// String lists the offloads in use, "none" if none.
func (o Offloads) String() string {
	var s []string
	if o.VnetHdr {
		s = append(s, "vnet_hdr")
	}
	if o.TSO {
		s = append(s, "tso")
	}
	if o.USO {
		s = append(s, "uso")
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ",")
}
