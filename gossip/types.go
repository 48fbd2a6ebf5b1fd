package gossip

import (
	"cmp"
	"fmt"
	"net/netip"
)

// ClusterScope is the network every node is a member of from the start. It
// carries cluster-wide tables (network definitions, services, key records);
// it cannot be joined or left and is not listed by Networks.
const ClusterScope = ""

// Entry is one replicated record. Its identity is (Network, Table, Key,
// Owner): only the owner writes it. Applications that must settle a semantic
// conflict between owners (same address, same name) order entries by
// (LTime, Owner), which every node sees identically.
//
// Value is shared with the store and must not be modified.
type Entry struct {
	Network string
	Table   string
	Key     string
	Owner   string
	Value   []byte
	LTime   uint64
}

// Before reports whether e orders before o in the (LTime, Owner) order.
func (e Entry) Before(o Entry) bool {
	return cmp.Or(cmp.Compare(e.LTime, o.LTime), cmp.Compare(e.Owner, o.Owner)) < 0
}

// EventKind says what an Event reports.
type EventKind uint8

// Event kinds. Entry events are emitted when an entry becomes visible or
// changes (EntryPut) and when it stops being visible (EntryDelete), whether
// by a delete, its owner failing or leaving, or this node leaving the network.
const (
	EntryPut EventKind = iota + 1
	EntryDelete
	MemberJoin
	MemberUpdate
	MemberFailed
	MemberLeft
	NetworkJoin
	NetworkLeave
)

var eventKindNames = [...]string{
	EntryPut:     "entry-put",
	EntryDelete:  "entry-delete",
	MemberJoin:   "member-join",
	MemberUpdate: "member-update",
	MemberFailed: "member-failed",
	MemberLeft:   "member-left",
	NetworkJoin:  "network-join",
	NetworkLeave: "network-leave",
}

func (k EventKind) String() string { return enumName(eventKindNames[:], k, "event-kind") }

// Event is delivered to watchers. Entry is set for entry events (for
// EntryDelete it holds the last value seen), Member for member events and,
// with only Name set, for network events; Network for entry and network
// events.
type Event struct {
	Kind    EventKind
	Entry   Entry
	Member  Member
	Network string
}

// MemberState is a node's state as this node sees it.
type MemberState uint8

// Member states.
const (
	StateAlive MemberState = iota + 1
	StateSuspect
	StateFailed
	StateLeft
)

var memberStateNames = [...]string{
	StateAlive:   "alive",
	StateSuspect: "suspect",
	StateFailed:  "failed",
	StateLeft:    "left",
}

func (s MemberState) String() string { return enumName(memberStateNames[:], s, "member-state") }

// enumName returns the name of v, or kind(v) if it has none.
func enumName[T ~uint8](names []string, v T, kind string) string {
	if int(v) < len(names) && names[v] != "" {
		return names[v]
	}
	return fmt.Sprintf("%s(%d)", kind, uint8(v))
}

// Member is a cluster node. Meta is the node's opaque metadata (a copy);
// Networks are the networks it has joined, sorted.
type Member struct {
	Name     string
	Addr     netip.AddrPort
	State    MemberState
	Meta     []byte
	Networks []string
}
