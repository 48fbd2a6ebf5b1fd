package packet

// Header sizes: anything shorter is not a packet of that kind.
const (
	IPv4MinHeaderLen = 20 // without options
	IPv6HeaderLen    = 40 // the fixed header; extension headers follow
	UDPHeaderLen     = 8
	TCPMinHeaderLen  = 20 // without options
)

// IP protocol numbers (IPv4 protocol, IPv6 next header) meshnet looks at.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
	ProtoSCTP   = 132
)
