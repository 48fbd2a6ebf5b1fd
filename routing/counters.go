package routing

import "sync/atomic"

// DropReason says why the data path discarded a frame or packet.
type DropReason int

// Drop reasons. Append only: metrics and status report them by name.
const (
	DropRunt           DropReason = iota // shorter than an Ethernet header
	DropMalformed                        // VXLAN header invalid
	DropUnknownVNI                       // VNI of no network this node joined
	DropNotMember                        // sender is not a member of the network
	DropPlaintext                        // plaintext VXLAN for an encrypted network
	DropUnknownUnicast                   // destination MAC unknown
	DropNoRoute                          // peer has no usable path for this network
	DropBUMRate                          // broadcast/multicast over the rate bound
	DropLocalDst                         // unicast to an endpoint behind this node
	DropMisdirected                      // arrived for a MAC that lives elsewhere
	DropPolicy                           // refused by the service hook
	DropSendError                        // transport failed to send
	DropDeviceError                      // device refused the frame
	numDropReasons
)

var dropNames = [numDropReasons]string{
	"runt", "malformed", "unknown_vni", "not_member", "plaintext_on_encrypted",
	"unknown_unicast", "no_route", "bum_rate", "local_destination", "misdirected",
	"policy", "send_error", "device_error",
}

func (r DropReason) String() string {
	if r < 0 || r >= numDropReasons {
		return "unknown"
	}
	return dropNames[r]
}

// Drops counts discarded frames by reason.
type Drops [numDropReasons]atomic.Uint64

// Add counts n drops for reason r.
func (d *Drops) Add(r DropReason, n uint64) { d[r].Add(n) }

// Map returns the non-zero counters by reason name.
func (d *Drops) Map() map[string]uint64 {
	m := map[string]uint64{}
	for i := range d {
		if v := d[i].Load(); v != 0 {
			m[DropReason(i).String()] = v
		}
	}
	return m
}

// PortStats counts one network's traffic through this node: frames from the
// device sent to peers (Tx) and frames from peers written to the device (Rx).
type PortStats struct {
	TxPackets, TxBytes, RxPackets, RxBytes atomic.Uint64
	ARPReplies, NDReplies, Replicated      atomic.Uint64
	Drops                                  Drops
}
