package lb

import "meshnet.dev/meshnet/internal/packet"

// ServiceMAC returns the MAC address proxy ARP/ND answers with for the VIPs
// of network vni: 02:6d:6e:VV:VV:VV ("mn" and the 24-bit VNI), locally
// administered and unicast. Every node derives the same address, so a
// client's neighbour entry for a VIP stays valid whichever node answered.
// The routing layer should not let an endpoint claim it.
func ServiceMAC(vni uint32) packet.MAC {
	return packet.MAC{0x02, 0x6d, 0x6e, byte(vni >> 16), byte(vni >> 8), byte(vni)}
}
