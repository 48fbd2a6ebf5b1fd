package tun

import "golang.org/x/sys/unix"

// Offload flags asked of the kernel (TUNSETOFFLOAD).
const (
	tunTCPOffloads = unix.TUN_F_CSUM | unix.TUN_F_TSO4 | unix.TUN_F_TSO6
	tunUDPOffloads = unix.TUN_F_USO4 | unix.TUN_F_USO6
)

// probeOffloads asks the kernel for TCP, then TCP and UDP, segmentation
// offload on a queue opened with IFF_VNET_HDR, and reports what it got.
func probeOffloads(fd int) Offloads {
	o := Offloads{VnetHdr: true}
	if unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, tunTCPOffloads) != nil {
		// Without them the kernel hands over finished frames and the
		// header stays empty on reads.
		return o
	}
	o.TSO = true
	o.USO = unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, tunTCPOffloads|tunUDPOffloads) == nil
	return o
}

// Queue kinds for openKQueue.
const (
	tapFlag = unix.IFF_TAP
	tunFlag = unix.IFF_TUN
)
