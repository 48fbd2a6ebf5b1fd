package tun

// The virtio-net header (struct virtio_net_hdr, 10 bytes) that a TAP or
// TUN device opened with IFF_VNET_HDR puts in front of every frame, in
// both directions. It carries the two offloads meshnet uses:
//
//   - segmentation (GSO): one read may return a TCP (or UDP) super-frame of
//     up to 64 KiB that the kernel did not cut into MTU-sized segments;
//     gso_size is the payload per segment, and we cut it (vnet_split.go).
//     Writing such a super-frame makes the kernel treat it as one coalesced
//     packet (vnet_gro.go builds them).
//   - checksum (NEEDS_CSUM): the L4 checksum field holds only the
//     pseudo-header sum; whoever finishes the frame sums from csum_start on
//     and stores the result at csum_start+csum_offset.
//
//	 0               1               2               3
//	+---------------+---------------+-------------------------------+
//	|     flags     |   gso_type    |        hdr_len (native)       |
//	+---------------+---------------+-------------------------------+
//	|       gso_size (native)       |      csum_start (native)      |
//	+-------------------------------+-------------------------------+
//	|      csum_offset (native)     |
//	+-------------------------------+
//
// The fields are in the host's byte order (the kernel's legacy virtio
// mode, which TUN/TAP use unless told otherwise).

import (
	"encoding/binary"
	"errors"

	"meshnet.dev/meshnet/internal/packet"
)

// vnetHdrLen is the size of struct virtio_net_hdr.
const vnetHdrLen = 10

// virtio-net header flags and GSO types (linux/virtio_net.h).
const (
	vnetFlagNeedsCsum = 1 // the L4 checksum is partial: finish it
	vnetFlagDataValid = 2 // the checksum was verified; the kernel trusts it

	vnetGSONone  = 0
	vnetGSOTCPv4 = 1
	vnetGSOTCPv6 = 4
	vnetGSOUDPL4 = 5
	vnetGSOECN   = 0x80
)

// vnetHdr is a parsed virtio-net header.
type vnetHdr struct {
	flags      uint8
	gsoType    uint8
	hdrLen     uint16
	gsoSize    uint16
	csumStart  uint16
	csumOffset uint16
}

var errShortVnetHdr = errors.New("tun: frame shorter than its virtio-net header")

// parseVnetHdr reads the header at the start of b.
func parseVnetHdr(b []byte) (vnetHdr, error) {
	if len(b) < vnetHdrLen {
		return vnetHdr{}, errShortVnetHdr
	}
	return vnetHdr{
		flags:      b[0],
		gsoType:    b[1],
		hdrLen:     binary.NativeEndian.Uint16(b[2:4]),
		gsoSize:    binary.NativeEndian.Uint16(b[4:6]),
		csumStart:  binary.NativeEndian.Uint16(b[6:8]),
		csumOffset: binary.NativeEndian.Uint16(b[8:10]),
	}, nil
}

// put writes h into b[:vnetHdrLen].
func (h vnetHdr) put(b []byte) {
	_ = b[vnetHdrLen-1]
	b[0], b[1] = h.flags, h.gsoType
	binary.NativeEndian.PutUint16(b[2:4], h.hdrLen)
	binary.NativeEndian.PutUint16(b[4:6], h.gsoSize)
	binary.NativeEndian.PutUint16(b[6:8], h.csumStart)
	binary.NativeEndian.PutUint16(b[8:10], h.csumOffset)
}

// IP and L4 constants the offload code needs.
const (
	tcpFlagFIN = 0x01
	tcpFlagSYN = 0x02
	tcpFlagRST = 0x04
	tcpFlagPSH = 0x08
	tcpFlagACK = 0x10
	tcpFlagURG = 0x20
	tcpFlagECE = 0x40
	tcpFlagCWR = 0x80

	vlanTagLen     = 4
	maxIPv4Total   = 0xffff
	ipv4FlagMF     = 0x20
	ipv4FragOffset = 0x1fff
)

// l3Offset returns where the IP header starts in a frame of a device with
// an Ethernet header (eth) or without one, and the IP version found there
// (4 or 6; 0 if the frame carries no IP). One 802.1Q or 802.1ad tag is
// understood.
func l3Offset(frame []byte, eth bool) (int, int) {
	off := 0
	if eth {
		if len(frame) < packet.EthHeaderLen {
			return 0, 0
		}
		et := packet.EtherType(frame)
		off = packet.EthHeaderLen
		if et == packet.EtherTypeVLAN || et == packet.EtherTypeQinQ {
			if len(frame) < packet.EthHeaderLen+vlanTagLen {
				return 0, 0
			}
			et = binary.BigEndian.Uint16(frame[16:18])
			off += vlanTagLen
		}
		if et != packet.EtherTypeIPv4 && et != packet.EtherTypeIPv6 {
			return 0, 0
		}
	}
	if len(frame) <= off {
		return 0, 0
	}
	v := int(frame[off] >> 4)
	if v != 4 && v != 6 {
		return 0, 0
	}
	return off, v
}
