package wire

import "time"

// Limits on everything a decoder reads from the network. Input exceeding
// one of them is refused with ErrTooLong or ErrOversized, never truncated.
const (
	// MaxNodeNameLen bounds node names.
	MaxNodeNameLen = 128
	// MaxNetworkIDLen bounds network ids.
	MaxNetworkIDLen = 64
	// MaxTableNameLen bounds table names.
	MaxTableNameLen = 64
	// MaxKeyLen bounds entry keys.
	MaxKeyLen = 256
	// MaxValueLen bounds entry values. Values are control-plane records
	// (endpoints, service definitions, sealed keys), not bulk data.
	MaxValueLen = 4096

	// MaxMessageSize bounds any message. Stream messages (bulk-sync
	// chunks) are far below memberlist's own 20 MiB user-message cap.
	MaxMessageSize = 8 << 20
	// MaxRecordsPerMessage bounds the membership records in one message
	// (push/pull state carries all of them: nodes x networks).
	MaxRecordsPerMessage = 1 << 20
	// MaxEventsPerMessage bounds the table events in one message: a
	// bulk-sync chunk may carry a whole network's table, as many entries
	// as one node stores for one network (gossip.MaxEntriesPerNetwork).
	MaxEventsPerMessage = 100_000
	// MaxTTL caps any lifetime a message carries; receivers also cap it
	// at their own tombstone lifetime.
	MaxTTL = 30 * 24 * time.Hour

	// MaxDigestSize bounds an encoded digest message: header, two bounded
	// strings with their lengths, flags and two uvarints.
	MaxDigestSize = headerLen + (2 + MaxNodeNameLen) + (1 + MaxNetworkIDLen) + 1 + 2*10

	// MaxSideRequest bounds a side request.
	MaxSideRequest = 1 << 10
	// MaxSideAnswer bounds a side answer.
	MaxSideAnswer = 8 << 10

	// maxCoordComponent bounds every component of a coordinate, in
	// seconds: far beyond any real round trip, small enough that one
	// forged coordinate can't throw ours to infinity.
	maxCoordComponent = 100.0
	// maxClock bounds the clock an ack reports (year 2262, the end of
	// Unix nanoseconds).
	maxClock = 9.2e9
)

// minimum encoded sizes, used to bound list lengths by the bytes that are
// actually there before allocating for them.
const (
	minTableEventSize = 9 // three 1-byte strings with lengths, ltime, flags, value length
	minNetRecordSize  = 5 // 1-byte node, empty network, ltime, flags
)
