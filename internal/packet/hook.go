package packet

import "net/netip"

// Verdict is a Hook's decision about a frame.
type Verdict uint8

// Verdicts.
const (
	Pass Verdict = iota // forward the frame, rewritten in place or untouched
	Drop                // discard it; the hook has counted why
)

// Hook lets the service load balancer see and rewrite frames on the data
// path (lb.Balancer implements it; routing.Config.Hook takes it). Its
// methods run on the hot path, from any number of goroutines at once: they
// must not block or allocate.
type Hook interface {
	// Outbound sees every unicast frame a local endpoint sends on network
	// vni before its destination is looked up, and may rewrite it in
	// place.
	Outbound(vni uint32, frame []byte) Verdict
	// Inbound sees every frame from a peer before it is written to the
	// device, and may rewrite it in place.
	Inbound(vni uint32, frame []byte) Verdict
	// LookupVIP returns the MAC that proxy ARP/ND answers with for a
	// service address on network vni.
	LookupVIP(vni uint32, ip netip.Addr) (MAC, bool)
}
