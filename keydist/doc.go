// Package keydist is meshnet's key management: node identity keys, the gossip
// keyring, data-path key epochs, sealed distribution of new key material,
// eviction, admin signatures and join tokens.
//
// keydist imports no other meshnet package. The node feeds it records that
// arrived by gossip (Member) and publishes the records it produces on an
// admin node (Issuer, Rotator).
//
// # Keys
//
//   - NodePrivate/NodePublic: the node's Curve25519 WireGuard static key,
//     kept in <state>/node.key (0600, same text form as `wg genkey`).
//   - AdminPrivate/AdminPublic: the ed25519 key that signs every record and
//     token, kept on admin nodes in <state>/admin.key.
//   - SymmetricKey: gossip (memberlist AES-256) and data epoch keys.
//
// Secret types redact themselves in every output path (fmt, encoding/json,
// encoding.TextMarshaler, log/slog) and hold their bytes in a closure that
// reflection cannot see, so a struct that keeps one in an unexported field
// prints a function address, never the key. They are not comparable with ==;
// Equal compares in constant time. The raw bytes leave only through explicit
// methods (UAPIHex, Bytes).
//
// # Trust
//
// A join token is signed by the admin key it carries, so its signature proves
// only that it was not altered, not who made it: whoever hands a node its
// token decides which cluster it joins. The joining node pins that admin key
// (ClusterState.Admin) and from then on accepts only records signed by it.
//
// # Rotation
//
// The gossip keyring holds three keys with the middle one primary. A regular
// rotation shifts the oldest key out and appends a fresh one, which every node
// only receives with for a whole period before it becomes primary. Any two
// nodes whose last applied records are at most one rotation apart can
// therefore read each other, with no synchronised switch.
//
// Every rotation also starts a new data epoch. A pair's WireGuard preshared
// key is derived from the epoch key and both public keys (PairPSK), so a new
// epoch re-keys every pair; peers use the older of their two epochs while one
// of them has not yet applied the newer (Epochs.ForPeer).
//
// Eviction publishes an admin-signed EvictRecord, which every node enforces,
// and triggers an immediate emergency rotation that is not sealed to the
// evicted node: the old primary stays receive-only (so nodes that have not yet
// applied the record are still heard), and two fresh keys become the primary
// and the next key. A follow-up rotation after a short purge delay drops the
// last key the evicted node knew.
//
// Goroutines and locks: Issuer and Member guard their ClusterState with
// their own mu, and Tracker its sequence numbers, so each may be used from
// several goroutines. A Rotator runs one goroutine, which owns its
// Schedule; Rotate requests reach it under the Rotator's mu, and Close stops
// it. Everything else is values and pure functions.
package keydist
