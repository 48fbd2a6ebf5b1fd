// Package keysync keeps a node's keys in step with its cluster: it loads
// the node's identity and membership (or starts a cluster), applies the
// key grants and evictions that arrive by gossip, seals keys to members on
// the admin node, runs the admin's rotation schedule and eviction
// rotations, pairs the encrypted transport with every member that shares
// a keyed epoch, and lets a member that missed rotations catch up by a
// gossip side request (the key request codec below).
//
// It talks to gossip and the WireGuard transport through the small Gossip
// and WireGuard interfaces, and to the node through the callbacks in
// Config, so it is tested with fakes and without a node. Keys documents
// which goroutine calls what and which lock guards what.
//
// It imports node/tables for the gossip formats and no other package
// under node/; the node imports it.
package keysync
