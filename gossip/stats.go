package gossip

import (
	"sync/atomic"

	"meshnet.dev/meshnet/gossip/wire"
)

// dropReason says why an incoming message, record or event was discarded.
type dropReason uint8

const (
	dropMalformed       dropReason = iota // could not be decoded
	dropOversized                         // larger than a named limit
	dropVersion                           // unknown wire version
	dropUnknownType                       // unknown message type
	dropNotMember                         // for a network this node has not joined
	dropUnknownOwner                      // owner (or record node) is not a known member
	dropUnknownSender                     // sender is not a known member
	dropForeignOwner                      // claims to change this node's own state
	dropStale                             // not newer than what is stored
	dropTableFull                         // network already holds MaxEntriesPerNetwork
	dropTooManyNetworks                   // would track more than MaxNetworks
	dropQueueFull                         // fanout queue over maxQueuedEvents, oldest dropped
	dropLTimeJump                         // Lamport time implausibly far ahead
	dropSyncBacklog                       // too many bulk syncs waiting
	dropBadCoordinate                     // invalid Vivaldi coordinate in a ping ack
	dropRefused                           // a node the Admit hook refused
	dropStreamRefused                     // an inbound stream over the stream guard's limits
	dropUndecryptable                     // memberlist could not decrypt (or read) a packet or stream
	dropUnsolicited                       // an answer to a question this node did not ask
	dropRateLimited                       // over a rate limit on answers
	dropReasonCount
)

var dropReasonNames = [dropReasonCount]string{
	"malformed", "oversized", "version", "unknown-type", "not-member",
	"unknown-owner", "unknown-sender", "foreign-owner", "stale", "table-full",
	"too-many-networks", "queue-full", "ltime-jump", "sync-backlog", "bad-coordinate", "refused",
	"stream-refused", "undecryptable", "unsolicited", "rate-limited",
}

func (r dropReason) String() string { return dropReasonNames[r] }

// Traffic counts messages and their bytes.
type Traffic struct {
	Messages uint64
	Bytes    uint64
}

// TransportStats counts everything that crossed this node's transport,
// memberlist's own probes, gossip and push/pull included, as memberlist
// framed it (after compression and encryption).
type TransportStats struct {
	PacketsSent         uint64
	PacketBytesSent     uint64
	PacketsReceived     uint64
	PacketBytesReceived uint64
	StreamsOpened       uint64 // dialled by this node
	StreamsAccepted     uint64
	StreamBytesSent     uint64
	StreamBytesReceived uint64
}

// BytesSent is every byte this node sent.
func (t TransportStats) BytesSent() uint64 { return t.PacketBytesSent + t.StreamBytesSent }

// BytesReceived is every byte this node received.
func (t TransportStats) BytesReceived() uint64 {
	return t.PacketBytesReceived + t.StreamBytesReceived
}

// Stats is a snapshot of a DB's counters.
type Stats struct {
	// Sent and Received count this package's messages by type
	// ("table-events", "network-events", "bulk-sync", "digest"), payload
	// bytes only.
	Sent     map[string]Traffic
	Received map[string]Traffic
	// Dropped counts discarded input by reason ("malformed", "version",
	// "foreign-owner", "stale", ...). Stale events are normal under gossip.
	Dropped map[string]uint64
	// Entries is the number of records stored per joined network,
	// tombstones and hidden entries included.
	Entries map[string]int
	// Queued is the number of events waiting for fanout per network.
	Queued map[string]int
	// PendingSyncs is the number of bulk syncs waiting for a worker.
	PendingSyncs int
	// PendingWatchEvents is the number of events not yet delivered to
	// watchers.
	PendingWatchEvents int
	// Transport counts all bytes on the wire, memberlist's included.
	Transport TransportStats
	// DigestMismatches counts digests from peers that differed from ours,
	// each of which started a full exchange (digest.go).
	DigestMismatches uint64
	// GapRepairs counts push/pulls started because a message named a node
	// memberlist had not told us of, or came from one we believe failed
	// (gaps.go).
	GapRepairs uint64
	// LTime and NetworkLTime are the Lamport clocks.
	LTime, NetworkLTime uint64
}

type counters struct {
	sentMsgs, sentBytes [wire.NumTypes]atomic.Uint64
	recvMsgs, recvBytes [wire.NumTypes]atomic.Uint64
	drops               [dropReasonCount]atomic.Uint64
	digestMismatches    atomic.Uint64
	gapRepairs          atomic.Uint64
	transport           transportCounters
}

type transportCounters struct {
	packetsSent, packetBytesSent         atomic.Uint64
	packetsReceived, packetBytesReceived atomic.Uint64
	streamsOpened, streamsAccepted       atomic.Uint64
	streamBytesSent, streamBytesReceived atomic.Uint64
}

func (c *counters) drop(r dropReason, n int) { c.drops[r].Add(uint64(n)) }

func (c *counters) sent(t wire.Type, bytes int) {
	c.sentMsgs[t].Add(1)
	c.sentBytes[t].Add(uint64(bytes))
}

func (c *counters) received(t wire.Type, bytes int) {
	c.recvMsgs[t].Add(1)
	c.recvBytes[t].Add(uint64(bytes))
}

// fill copies the atomic counters into s.
func (c *counters) fill(s *Stats) {
	s.Sent = make(map[string]Traffic)
	s.Received = make(map[string]Traffic)
	for t := wire.TypeTableEvents; t < wire.NumTypes; t++ {
		s.Sent[t.String()] = Traffic{c.sentMsgs[t].Load(), c.sentBytes[t].Load()}
		s.Received[t.String()] = Traffic{c.recvMsgs[t].Load(), c.recvBytes[t].Load()}
	}
	s.Dropped = make(map[string]uint64)
	for r := dropReason(0); r < dropReasonCount; r++ {
		if v := c.drops[r].Load(); v != 0 {
			s.Dropped[r.String()] = v
		}
	}
	s.DigestMismatches = c.digestMismatches.Load()
	s.GapRepairs = c.gapRepairs.Load()
	t := &c.transport
	s.Transport = TransportStats{
		PacketsSent:         t.packetsSent.Load(),
		PacketBytesSent:     t.packetBytesSent.Load(),
		PacketsReceived:     t.packetsReceived.Load(),
		PacketBytesReceived: t.packetBytesReceived.Load(),
		StreamsOpened:       t.streamsOpened.Load(),
		StreamsAccepted:     t.streamsAccepted.Load(),
		StreamBytesSent:     t.streamBytesSent.Load(),
		StreamBytesReceived: t.streamBytesReceived.Load(),
	}
}
