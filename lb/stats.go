package lb

import "sync/atomic"

// DropReason says why the balancer dropped a frame.
type DropReason uint8

const (
	// DropNoBackend: the service has no healthy backend.
	DropNoBackend DropReason = iota
	// DropNoPort: a VIP was reached on a port or protocol its service does
	// not serve.
	DropNoPort
	// DropNoMAC: the chosen backend's MAC address is not known (yet).
	DropNoMAC
	// DropFragment: an IP fragment was sent to a VIP; fragments cannot be
	// balanced without reassembly.
	DropFragment
	// DropMalformed: a frame to a VIP had headers that do not parse.
	DropMalformed
	// DropTupleClash: the backend's reply tuple is taken by another live
	// flow of the same client, so replies could not be told apart.
	DropTupleClash

	// NumDropReasons is the number of drop reasons, for sizing arrays.
	NumDropReasons = int(DropTupleClash) + 1
)

// String names the reason for metrics labels and logs.
func (r DropReason) String() string {
	switch r {
	case DropNoBackend:
		return "no_backend"
	case DropNoPort:
		return "no_port"
	case DropNoMAC:
		return "no_mac"
	case DropFragment:
		return "fragment"
	case DropMalformed:
		return "malformed"
	case DropTupleClash:
		return "tuple_clash"
	}
	return "unknown"
}

// Stats is a point-in-time copy of the balancer's counters.
type Stats struct {
	// Flows is the number of tracked flows, including expired ones not yet
	// reclaimed (call Sweep to reclaim them).
	Flows int
	// Evictions counts live flows dropped because the table was full.
	Evictions uint64
	// DNATed counts frames translated towards a backend, SNATed replies
	// translated back to the VIP.
	DNATed uint64
	SNATed uint64
	// Reused counts tracked flows forgotten because the client opened a
	// direct connection on their tuple.
	Reused uint64
	// Drops counts dropped frames by DropReason.
	Drops [NumDropReasons]uint64
}

type counters struct {
	dnat, snat atomic.Uint64
	reused     atomic.Uint64
	drops      [NumDropReasons]atomic.Uint64
}
