package routing

import "net/netip"

// Verdict is a Hook's decision about a frame.
type Verdict uint8

// Verdicts.
const (
	Pass Verdict = iota // forward the (possibly rewritten) frame
	Drop                // discard it; the hook counted why
)

// Hook lets the service load balancer rewrite frames on the data path. Its
// methods run on the hot path: they must not block or allocate.
type Hook interface {
	// Outbound sees every unicast frame a local endpoint sends on network
	// vni before its destination is looked up, and may rewrite it in place.
	Outbound(vni uint32, frame []byte) Verdict
	// Inbound sees every frame from a peer before it is written to the
	// device, and may rewrite it in place.
	Inbound(vni uint32, frame []byte) Verdict
	// LookupVIP returns the MAC that proxy ARP/ND answers with for a
	// service address on network vni.
	LookupVIP(vni uint32, ip netip.Addr) (MAC, bool)
}

// Learned reports an endpoint seen behind this node's device.
type Learned struct {
	VNI uint32
	MAC MAC
	IP  netip.Addr // invalid when the frame revealed no address in the network
}
