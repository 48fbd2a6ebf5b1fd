package packet

import "encoding/binary"

// An untagged Ethernet II header:
//
//	 0                   1
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3
//	+-----------+-----------+---+
//	|  dst MAC  |  src MAC  |typ|
//	+-----------+-----------+---+
const EthHeaderLen = 14

// EtherTypes meshnet looks at.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeARP  = 0x0806
	EtherTypeIPv6 = 0x86DD
	EtherTypeVLAN = 0x8100 // 802.1Q tag
	EtherTypeQinQ = 0x88A8 // 802.1ad outer tag
)

// The accessors below read an Ethernet header at the start of frame; the
// caller has checked that frame holds at least EthHeaderLen bytes.

// DstMAC returns the destination address of frame.
func DstMAC(frame []byte) MAC { return MAC(frame[0:6]) }

// SrcMAC returns the source address of frame.
func SrcMAC(frame []byte) MAC { return MAC(frame[6:12]) }

// EtherType returns the EtherType of frame (the tag's type for a tagged
// frame: tags are not looked through).
func EtherType(frame []byte) uint16 { return binary.BigEndian.Uint16(frame[12:14]) }

// PutEthHeader writes dst, src and etherType into b[:EthHeaderLen].
func PutEthHeader(b []byte, dst, src MAC, etherType uint16) {
	_ = b[EthHeaderLen-1]
	copy(b[0:6], dst[:])
	copy(b[6:12], src[:])
	binary.BigEndian.PutUint16(b[12:14], etherType)
}
