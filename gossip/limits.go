package gossip

import (
	"time"

	"meshnet.dev/meshnet/gossip/wire"
)

// Limits on everything that arrives from the network. A message or record
// exceeding one of them is dropped and counted, never truncated. The
// limits of the wire format itself are package wire's; they are repeated
// here because they are also what local writes must respect.
const (
	// MaxNodeNameLen bounds node names; longer names are refused at the
	// memberlist alive check, so they can never own entries.
	MaxNodeNameLen = wire.MaxNodeNameLen
	// MaxNetworkIDLen bounds network ids.
	MaxNetworkIDLen = wire.MaxNetworkIDLen
	// MaxTableNameLen bounds table names.
	MaxTableNameLen = wire.MaxTableNameLen
	// MaxKeyLen bounds entry keys.
	MaxKeyLen = wire.MaxKeyLen
	// MaxValueLen bounds entry values.
	MaxValueLen = wire.MaxValueLen
	// MaxMessageSize bounds any message we decode.
	MaxMessageSize = wire.MaxMessageSize
	// MaxRecordsPerMessage bounds the membership records in one message.
	MaxRecordsPerMessage = wire.MaxRecordsPerMessage
	// MaxEventsPerMessage bounds the table events in one gossip packet or
	// bulk-sync chunk: at least MaxEntriesPerNetwork.
	MaxEventsPerMessage = wire.MaxEventsPerMessage

	// MaxNetworks bounds the networks a node joins and the distinct network
	// ids it tracks membership records for (ClusterScope not counted).
	MaxNetworks = 4096
	// MaxEntriesPerNetwork bounds the records (live, hidden and tombstones)
	// one node stores for one network.
	MaxEntriesPerNetwork = 100_000

	// maxQueuedEvents bounds the events waiting for fanout per network; the
	// oldest are dropped first (bulk sync repairs what gossip lost).
	maxQueuedEvents = 4096
	// maxPendingSyncs bounds bulk syncs waiting for a worker.
	maxPendingSyncs = 256
	// maxLTimeAhead is how far ahead of our own Lamport clock an incoming
	// time may be. A hostile or corrupt time near 2^64 would otherwise make
	// the clock wrap and every later write lose.
	maxLTimeAhead = 1 << 40
)

// Sizes used when building messages.
const (
	// packetBudget is the payload we put in one best-effort message:
	// memberlist's 1400-byte packet minus its user-message, CRC, label and
	// AES-GCM overheads, with margin. A single event larger than this is
	// still sent, alone (it may be IP-fragmented).
	packetBudget = 1400 - 100
	// bulkChunkSize is the target size of one bulk-sync stream message; a
	// table larger than this goes in several self-contained chunks.
	bulkChunkSize = 1 << 20
	// joinSyncPeers is how many members a node bulk-syncs with right after
	// joining a network, so a single slow or stale peer can't delay it.
	joinSyncPeers = 2
	// joinSyncRetry is how long a node waits for any bulk sync of a
	// network it joined before asking one more member; a member that did
	// not know the joiner yet dropped the request unanswered, and a second
	// later the joiner's alive message has reached most of the cluster.
	joinSyncRetry = time.Second
	// joinSyncRetries bounds those extra requests; after them the periodic
	// digests repair the replica (BulkSyncInterval).
	joinSyncRetries = 10
	// maxSyncRelay is the most entry changes one bulk-sync message may
	// bring for them to be relayed by gossip too (see mergeBulkSync).
	maxSyncRelay = 64
	// syncWorkers is the number of concurrent outgoing bulk syncs.
	syncWorkers = 4
)
