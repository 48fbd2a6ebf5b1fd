// Package gossip is meshnet's control plane: cluster membership and
// network-scoped replicated tables on SWIM gossip (hashicorp/memberlist).
// It owns the gossip port (its UDP/TCP transport, the guard in front of
// memberlist, side requests), each node's view of the members and of who
// is in which network, the replicas of the tables, and their spreading
// and repair. It knows nothing about packets; what the tables mean is the
// node package's business.
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
// A DB owns its goroutines and stops them all in Shutdown (Leave ends with
// Shutdown), which closes DB.stop, shuts memberlist down (memberlist stops
// its own goroutines and then the transport's) and waits for the rest:
//
//   - three timer loops (DB.every, started in db.go): the gossip round every
//     GossipInterval, the digest and rejoin round every BulkSyncInterval,
//     the reaper;
//   - syncWorkers bulk-sync senders fed by DB.syncs, and at most one
//     memberlist Join at a time for rejoins and one for push/pulls
//     (joinLocked);
//   - the event dispatcher (watch.go), which calls watchers in order;
//   - the counting transport's two forwarders and one goroutine per inbound
//     stream while the stream guard reads its header (a side request is
//     answered on it); with real sockets, the UDP reader and TCP acceptor.
//
// memberlist calls the delegates (delegate.go) from its own goroutines
// with its node lock held, and rewrites its Node structs in place, so the
// package keeps copies (member.node), never memberlist's pointers.
//
// DB.mu guards the replicated state: the member table, the entry stores of
// the joined networks with their fanout queues, the record table and its
// queue, pending syncs, gaps and held items, and the leaving and closed
// flags. Lock order: memberlist's node lock, then DB.mu, then the
// dispatcher's lock (events are queued under DB.mu). Nothing calls into
// memberlist with DB.mu held: sends are prepared under it and made after.
// Watchers run without any DB lock. Counters and Lamport clocks are
// atomic; Vivaldi coordinates and the log bridge have locks of their own
// (the reaper takes Vivaldi's under DB.mu).
//
// Every incoming message goes through the bounded decoders of package wire
// (limits in wire/limits.go); bad input is dropped and counted in Stats,
// never trusted.
//
// # Layout
//
// db.go, config.go and mlconfig.go build a DB; members.go, networks.go
// and entries.go are the API and its state changes; store.go (entries of
// one network), recordtable.go (membership records) and queue.go (fanout
// queues) hold the state. receive.go, records.go and gaps.go merge what
// arrives; gossiper.go, selector.go, bulksync.go, digest.go and leave.go
// send; reaper.go forgets; delegate.go is memberlist's side; the
// transports, stream guard, packet authentication and side requests are
// in nettransport.go, transport_count.go, streamguard.go, packetauth.go
// and sidereq.go.
//
// # Imports
//
// gossip imports no other meshnet package but its own leaf, gossip/wire,
// which imports none. Package memnet provides the in-memory transport for
// tests and the simulator; gossip imports it in tests only.
package gossip
