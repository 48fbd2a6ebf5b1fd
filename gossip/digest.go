package gossip

import (
	"math/rand/v2"
	"time"
)

// Digest-first anti-entropy. Sending a whole replica every interval costs
// O(entries) per node per interval, which grows with the cluster. Instead,
// every BulkSyncInterval a node sends each joined network's digest to one
// random member of it, and a membership digest to one random live node,
// in a small encrypted packet. The receiver compares it with its own: if
// they match, nothing more is sent; if not, the full exchange runs between
// the two (a bulk sync for a network, memberlist's push/pull for
// membership). An idle cluster thus sends O(networks) bytes per node per
// interval, whatever its size, and a divergence is still repaired within
// about one interval.
//
// A digest is the count and the sum (mod 2^64) of a 64-bit hash of every
// item a full exchange would carry, so it doesn't depend on order and two
// replicas with the same items agree. Items are hashed with the fields the
// merge compares; lifetimes are left out (they differ by transit time) but
// expired tombstones are skipped, as a bulk sync skips them.

// digest is an order-independent summary of a set of items.
type digest struct{ count, sum uint64 }

func (g *digest) add(h hasher) {
	g.count++
	g.sum += mix64(uint64(h))
}

// hasher is FNV-1a over length-prefixed fields, the same on every node.
type hasher uint64

const (
	fnvOffset hasher = 14695981039346656037
	fnvPrime  hasher = 1099511628211
)

// Item tags keep items of different kinds from hashing alike.
const (
	tagEntry  = 'e'
	tagRecord = 'r'
	tagMember = 'm'
)

func newHasher(tag byte) hasher { return (fnvOffset ^ hasher(tag)) * fnvPrime }

func (h hasher) u64(v uint64) hasher {
	for range 8 {
		h = (h ^ hasher(v&0xff)) * fnvPrime
		v >>= 8
	}
	return h
}

func (h hasher) str(s string) hasher {
	h = h.u64(uint64(len(s)))
	for i := 0; i < len(s); i++ {
		h = (h ^ hasher(s[i])) * fnvPrime
	}
	return h
}

func (h hasher) bytes(p []byte) hasher {
	h = h.u64(uint64(len(p)))
	for _, c := range p {
		h = (h ^ hasher(c)) * fnvPrime
	}
	return h
}

func (h hasher) flag(b bool) hasher {
	if b {
		return h.u64(1)
	}
	return h.u64(0)
}

// mix64 is splitmix64's finalizer: FNV's low-entropy high bits would
// otherwise make sums of similar items collide more often than random.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func hashRecord(network, node string, ltime uint64, leave bool) hasher {
	return newHasher(tagRecord).str(network).str(node).u64(ltime).flag(leave)
}

// networkDigestLocked summarises what a bulk sync of n would carry: its
// membership records and its entries, live and tombstones.
func (d *DB) networkDigestLocked(n *network, now time.Time) digest {
	var g digest
	for node, r := range d.records[n.id] {
		if r.leave && !r.reapAt.After(now) {
			continue
		}
		g.add(hashRecord(n.id, node, r.ltime, r.leave))
	}
	n.each(func(id entryID, r *entryRec) {
		if r.deleted && !r.reapAt.After(now) {
			return
		}
		h := newHasher(tagEntry).str(id.table).str(id.key).str(id.owner).u64(r.ltime).flag(r.deleted)
		if !r.deleted {
			h = h.bytes(r.value)
		}
		g.add(h)
	})
	return g
}

// membershipDigestLocked summarises what memberlist's push/pull would
// change: every known node with its address, metadata and state (suspect
// counts as alive, as memberlist doesn't report it), and every network
// membership record, which rides on push/pull.
func (d *DB) membershipDigestLocked(now time.Time) digest {
	var g digest
	for name, m := range d.members {
		state := StateAlive
		if !m.visible() {
			state = m.state
		}
		g.add(newHasher(tagMember).str(name).str(m.addr.String()).bytes(m.meta).u64(uint64(state)))
	}
	for network, nodes := range d.records {
		for node, r := range nodes {
			if r.leave && !r.reapAt.After(now) {
				continue
			}
			g.add(hashRecord(network, node, r.ltime, r.leave))
		}
	}
	return g
}

// digestRoundLocked prepares this interval's digests: one per joined
// network to a random live member of it, and one of membership to a
// random live node.
func (d *DB) digestRoundLocked(now time.Time) []outMsg {
	var out []outMsg
	for _, id := range d.sortedNetworkIDsLocked() {
		peers := d.networkPeersLocked(id)
		if len(peers) == 0 {
			continue
		}
		m := digestMsg{Sender: d.name, Network: id, Digest: d.networkDigestLocked(d.networks[id], now)}
		out = append(out, outMsg{to: peers[rand.IntN(len(peers))], typ: msgDigest, payload: m.encode()})
	}
	if peers := d.networkPeersLocked(ClusterScope); len(peers) > 0 {
		m := digestMsg{Sender: d.name, Members: true, Digest: d.membershipDigestLocked(now)}
		out = append(out, outMsg{to: peers[rand.IntN(len(peers))], typ: msgDigest, payload: m.encode()})
	}
	return out
}

// mergeDigest compares a peer's digest with ours and, if they differ,
// starts the full exchange with that peer.
func (d *DB) mergeDigest(m digestMsg) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.acceptSenderLocked(m.Sender, 1) {
		d.gapLocked(m.Sender, "")
		return
	}
	if m.Sender == d.name {
		return
	}
	now := d.now()
	if m.Members {
		if d.membershipDigestLocked(now) == m.Digest {
			return
		}
		d.stats.digestMismatches.Add(1)
		d.pushPullLocked(m.Sender)
		return
	}
	n, ok := d.networks[m.Network]
	if !ok {
		d.stats.drop(dropNotMember, 1)
		return
	}
	if d.networkDigestLocked(n, now) == m.Digest {
		return
	}
	d.stats.digestMismatches.Add(1)
	if d.aliveLocked(m.Sender) {
		d.scheduleSyncLocked(m.Network, m.Sender, true)
	}
}
