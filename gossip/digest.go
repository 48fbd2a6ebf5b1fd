package gossip

import (
	"math/rand/v2"
	"time"

	"meshnet.dev/meshnet/gossip/wire"
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
// A digest (wire.Summary) is the count and the sum of a hash of every item
// a full exchange would carry, so it doesn't depend on order and two
// replicas with the same items agree. Lifetimes are not hashed (they differ
// by transit time) but expired tombstones are skipped, as a bulk sync
// skips them.

// networkSummary summarises what a bulk sync of n would carry: its
// membership records and its entries, live and tombstones.
func networkSummary(records recordTable, n *network, now time.Time) wire.Summary {
	var g wire.Summary
	records.addSummary(&g, n.id, now)
	n.addSummary(&g, now)
	return g
}

// membershipSummary summarises what memberlist's push/pull would change:
// every known node with its address, metadata and state (suspect counts
// as alive, as memberlist doesn't report it), and every network
// membership record, which rides on push/pull.
func membershipSummary(members memberTable, records recordTable, now time.Time) wire.Summary {
	var g wire.Summary
	for name, m := range members {
		state := StateAlive
		if !m.visible() {
			state = m.state
		}
		g.Add(wire.MemberHash(name, m.addr.String(), m.meta, uint8(state)))
	}
	for network := range records {
		records.addSummary(&g, network, now)
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
		m := wire.Digest{Sender: d.name, Network: id, Summary: networkSummary(d.records, d.networks[id], now)}
		out = append(out, outMsg{to: peers[rand.IntN(len(peers))], typ: wire.TypeDigest, payload: m.Append(nil)})
	}
	if peers := d.networkPeersLocked(ClusterScope); len(peers) > 0 {
		m := wire.Digest{Sender: d.name, Members: true, Summary: membershipSummary(d.members, d.records, now)}
		out = append(out, outMsg{to: peers[rand.IntN(len(peers))], typ: wire.TypeDigest, payload: m.Append(nil)})
	}
	return out
}

// mergeDigest compares a peer's digest with ours and, if they differ,
// starts the full exchange with that peer.
func (d *DB) mergeDigest(m wire.Digest) {
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
		if membershipSummary(d.members, d.records, now) == m.Summary {
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
	if networkSummary(d.records, n, now) == m.Summary {
		return
	}
	d.stats.digestMismatches.Add(1)
	if d.members.alive(m.Sender) {
		d.scheduleSyncLocked(m.Network, m.Sender, true)
	}
}
