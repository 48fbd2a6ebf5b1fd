package routing

import "encoding/binary"

// MAC is an Ethernet hardware address.
type MAC = [6]byte

// Ethernet header layout and the EtherTypes the forwarder looks at.
const (
	EthHeaderLen  = 14
	EtherTypeIPv4 = 0x0800
	EtherTypeARP  = 0x0806
	EtherTypeIPv6 = 0x86DD
)

// BroadcastMAC is ff:ff:ff:ff:ff:ff.
var BroadcastMAC = MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// IsMulticast reports whether m is a group address (broadcast included).
func IsMulticast(m MAC) bool { return m[0]&1 == 1 }

// IsZero reports whether m is the all-zero address, which no endpoint uses.
func IsZero(m MAC) bool { return m == MAC{} }

// dstMAC and srcMAC read the addresses of an Ethernet frame; the caller has
// checked that the frame is at least EthHeaderLen long.
func dstMAC(frame []byte) MAC { return MAC(frame[0:6]) }
func srcMAC(frame []byte) MAC { return MAC(frame[6:12]) }

func etherType(frame []byte) uint16 { return binary.BigEndian.Uint16(frame[12:14]) }

// writeEthHeader writes dst, src and etherType into b[:EthHeaderLen].
func writeEthHeader(b []byte, dst, src MAC, etherType uint16) {
	copy(b[0:6], dst[:])
	copy(b[6:12], src[:])
	binary.BigEndian.PutUint16(b[12:14], etherType)
}
