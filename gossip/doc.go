// Package gossip is meshnet's control plane: cluster membership and
// network-scoped replicated tables on SWIM gossip (hashicorp/memberlist).
// It knows nothing about packets.
//
// # Model
//
// An entry is (network, table, key) -> value with one owner, the node that
// wrote it; its identity is (network, table, key, owner), so nodes never
// write each other's entries and applications settle semantic conflicts
// (same address claimed twice) by the (LTime, Owner) order every node
// sees. Each node stamps its writes with a Lamport clock; a replica takes
// an event only if its time is strictly greater than what it holds, so
// events can arrive late, twice or out of order. Deletes leave tombstones
// that carry their remaining lifetime in every message, never a deadline,
// so wall clocks don't matter. An event that claims to change this node's
// own entries but wasn't written by it (a previous run under the same
// name, or a forgery) is dropped and our real state re-asserted with a
// later time.
//
// A node stores and relays a network's entries only after joining it.
// Which node is in which network is itself replicated cluster-wide (a
// second Lamport clock), in gossip, in every bulk sync and in memberlist's
// push/pull (run when membership digests differ), so a lost join message
// heals. ClusterScope is the network
// every node is in, for cluster-wide tables.
//
// # Spreading
//
// Per network, every GossipInterval, queued events go to Fanout live
// members of that network, in packets of up to about 1300 bytes, each
// event a bounded number of times (scaled with log of the member count,
// and to every member in a network of under ten);
// receivers relay what was news to them. With TopologyAware the targets
// are mostly the nearest members by Vivaldi coordinates (carried on
// memberlist's ping acks), plus one uniformly random member. Right after
// joining a network (or the cluster, seeds first: only they know the
// joiner yet) a node exchanges the whole network replica with members over
// a stream, and asks one more member every second until a replica has
// arrived. Every BulkSyncInterval it sends one random member
// of each network a digest of its replica, and one random node a digest
// of membership, and the full exchange (bulk sync, memberlist push/pull)
// runs only where they differ: this anti-entropy heals lost gossip and
// partitions at a per-node cost that doesn't grow with the cluster.
// Gossip that names a node memberlist hasn't told us of yet (its alive
// message is late or missed us) is held, a push/pull with the member that
// sent it runs if the node is still unknown a second later, and the held
// gossip is applied once the node is known, without waiting for a digest.
// Gossip from a node believed failed (it restarted) starts the same
// push/pull.
//
// # Failures
//
// When memberlist declares a node dead its entries are hidden (watchers
// see EntryDelete) and come back if it returns; after NodeReapTimeout they
// are dropped. A node that leaves gracefully deletes its entries first and
// retracts its presence, so peers report it as left, not failed. A node
// that restarts under the same name, from any address, takes its place.
//
// # Concurrency
//
// A DB owns its goroutines (fanout, bulk sync and its workers, reaper,
// event dispatcher, transport counters) and stops them all in Shutdown or
// Leave. Watchers run on the dispatcher goroutine, in order, never under
// the DB's lock. Every incoming message goes through versioned, bounded
// decoders (package wire, limits in wire/limits.go); bad input is dropped and counted
// in Stats, never trusted.
//
// Package memnet provides the in-memory transport for tests and the
// simulator.
package gossip
