package node

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/keydist"

	"meshnet.dev/meshnet/node/tables"
)

// syncKeys applies evictions and key grants that arrived by gossip and, on
// the admin node, seals the current keys to members that lack them. Called
// by the reconciler.
func (n *Node) syncKeys() {
	n.applyEvictions()
	n.applyGrants()
	if n.keys.issuer != nil {
		n.grantMissing()
	}
}

// applyGrants applies this node's newer key grants in sequence order.
func (n *Node) applyGrants() {
	st := n.keys.member.State()
	var recs []*keydist.KeyRecord
	for _, e := range n.db.Lookup(gossip.ClusterScope, tables.Grants, n.keys.pub.String()) {
		rec, err := keydist.DecodeKeyRecord(e.Value)
		if err != nil {
			n.countKeyReject("malformed grant", e.Owner, err)
			continue
		}
		// Grants issued before the keys held (a join token newer than
		// them) are stale, not hostile: skipped without a complaint.
		if rec.Seq > st.Seq && !rec.IssuedAt.Before(st.KeysIssuedAt) {
			recs = append(recs, rec)
		}
	}
	slices.SortFunc(recs, func(a, b *keydist.KeyRecord) int { return cmp.Compare(a.Seq, b.Seq) })
	for _, rec := range recs {
		if err := n.applyKeyRecord(rec); err != nil {
			n.countKeyReject("rejected grant", "", err)
		}
	}
}

// applyKeyRecord opens a grant sealed to this node and puts its keys to
// use: the gossip keyring in memberlist (install, use, remove), the data
// epoch in the WireGuard pairs' preshared keys, and the epoch number in
// this node's metadata so peers agree on which epoch each pair uses.
func (n *Node) applyKeyRecord(rec *keydist.KeyRecord) error {
	n.keyApply.Lock()
	defer n.keyApply.Unlock()
	mat, err := n.keys.member.ApplyKeyRecord(rec)
	if err != nil {
		return err
	}
	if err := mat.Ring.Apply(n.db.Keyring()); err != nil {
		n.log.Error("installing new gossip keys", "err", err)
	}
	n.log.Info("applied new cluster keys", "epoch", mat.Epoch.Number, "seq", rec.Seq)
	n.publishMeta()
	return nil
}

// applyEvictions puts newly evicted nodes on this node's eviction list and
// drops them as peers at once.
func (n *Node) applyEvictions() {
	n.db.Walk(gossip.ClusterScope, tables.Evictions, func(e gossip.Entry) bool {
		rec, err := keydist.DecodeEvictRecord(e.Value)
		if err != nil {
			n.countKeyReject("malformed eviction", e.Owner, err)
			return true
		}
		if n.keys.member.IsEvicted(rec.Node) {
			return true
		}
		added, err := n.keys.member.ApplyEvictRecord(rec)
		if err != nil {
			n.countKeyReject("rejected eviction", e.Owner, err)
			return true
		}
		if added {
			if rec.Node == n.keys.pub {
				n.log.Error("this node has been evicted from the cluster; it can no longer exchange traffic or keys")
			} else {
				n.log.Warn("node evicted", "node", rec.Name, "key", rec.Node)
			}
			n.dropEvicted(rec.Node)
		}
		return true
	})
}

// countKeyReject logs and counts a key record this node refused.
func (n *Node) countKeyReject(what, owner string, err error) {
	n.keyRejects.Add(1)
	n.log.Warn("refused key record", "what", what, "from", owner, "err", err)
}

// grantMissing (admin) seals the current keys to every live member whose
// grant is missing or older than the current epoch, and withdraws grants of
// evicted nodes.
func (n *Node) grantMissing() {
	is := n.keys.issuer
	st := is.State()
	epoch := st.Epochs.Current.Number
	var lastEviction time.Time
	for _, e := range st.Evicted {
		if e.IssuedAt.After(lastEviction) {
			lastEviction = e.IssuedAt
		}
	}
	var need []keydist.NodePublic
	for _, m := range n.liveMetas() {
		has, granted := false, false
		for _, e := range n.db.Lookup(gossip.ClusterScope, tables.Grants, m.Key.String()) {
			if rec, err := keydist.DecodeKeyRecord(e.Value); err == nil {
				granted = true
				has = has || rec.Epoch == epoch
			}
		}
		if has {
			continue
		}
		// A key never granted before is a new node: it must have joined
		// with a token issued after the latest eviction, so an evicted
		// machine cannot come back with a fresh key and an old token.
		if !granted && m.Key != n.keys.pub && !lastEviction.IsZero() && !m.Token.After(lastEviction) {
			n.log.Warn("not granting keys to a new node whose join token predates the latest eviction; it needs a fresh token",
				"key", m.Key, "token_issued", m.Token, "last_eviction", lastEviction)
			continue
		}
		need = append(need, m.Key)
	}
	if len(need) > 0 {
		rec, err := is.Reseal(need)
		if err == nil {
			err = n.publishGrants(rec)
		}
		if err != nil {
			n.log.Error("sealing keys to new members", "err", err)
		}
	}
}

// publishGrants splits rec into per-node grants and publishes them.
func (n *Node) publishGrants(rec *keydist.KeyRecord) error {
	grants, err := n.keys.issuer.Grants(rec)
	if err != nil {
		return err
	}
	for _, g := range grants {
		if err := n.db.Put(gossip.ClusterScope, tables.Grants, g.Recipients[0].To.String(), g.Encode()); err != nil {
			return fmt.Errorf("publishing key grant: %w", err)
		}
	}
	n.poke()
	return nil
}

// rotate (admin) runs one key rotation for the rotator. An eviction runs
// in two steps: first a fresh staged gossip key and data epoch sealed to the
// remaining members, sent under the current primary (so they can read it);
// then, once every member announces the new epoch, a regular rotation that
// makes the fresh key primary. The evicted node never held it, so from then
// on it reads nothing; the purge rotation that follows removes the last key
// it knew.
func (n *Node) rotate(ctx context.Context, reason keydist.Reason) error {
	is := n.keys.issuer
	if err := n.readyToRotate(reason); err != nil {
		return err
	}
	if reason.Emergency() {
		rec, err := is.Restage(n.memberPubs())
		if err != nil {
			return err
		}
		n.log.Info("eviction: staging fresh keys", "epoch", rec.Epoch, "members", len(rec.Recipients))
		if err := n.publishGrants(rec); err != nil {
			return err
		}
		n.awaitEpoch(ctx, rec.Epoch, restageWait)
	}
	rec, err := is.Rotate(n.memberPubs(), false)
	if err != nil {
		return err
	}
	n.log.Info("rotating cluster keys", "reason", reason, "epoch", rec.Epoch, "members", len(rec.Recipients))
	return n.publishGrants(rec)
}

// restageWait bounds how long an eviction waits for members to install the
// fresh keys before making them primary anyway (a member that missed them
// then needs a new token).
const restageWait = 10 * time.Second

// awaitEpoch waits until every live member announces epoch (or newer), the
// timeout passes or ctx ends.
func (n *Node) awaitEpoch(ctx context.Context, epoch uint64, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		behind := 0
		for _, m := range n.liveMetas() {
			if m.Epoch < epoch {
				behind++
			}
		}
		if behind == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
	n.log.Warn("some members did not install the staged keys in time", "epoch", epoch)
}

// rotationStartGrace bounds how long a restarted admin node postpones
// scheduled rotations while it has not rejoined its cluster.
const rotationStartGrace = time.Minute

// readyToRotate postpones scheduled rotations of an admin node that has
// not rejoined its cluster since it started: sealed to itself alone, they
// would leave every member a rotation behind, and two would lock them out
// of gossip. On-demand rotations and evictions run when asked.
func (n *Node) readyToRotate(reason keydist.Reason) error {
	if reason != keydist.ReasonScheduled && reason != keydist.ReasonPurge {
		return nil
	}
	n.mu.Lock()
	joined := !n.joinedAt.IsZero()
	n.mu.Unlock()
	if joined || time.Since(n.started) > rotationStartGrace {
		return nil
	}
	return fmt.Errorf("%w: this node has not rejoined its cluster since it started", keydist.ErrPostponed)
}

// memberPubs lists the public keys of every non-evicted member this node
// knows, failed and departed ones included (until gossip reaps them): keys
// are sealed to them too, so a member that is down or cut off during a
// rotation finds its grant waiting (by gossip, or by key catch-up) when it
// returns.
func (n *Node) memberPubs() []keydist.NodePublic {
	out := []keydist.NodePublic{n.keys.pub}
	for _, m := range n.db.Members() {
		if m.Name == n.spec.Name {
			continue
		}
		meta, err := tables.DecodeMeta(m.Meta)
		if err != nil || meta.Key.IsZero() || n.keys.member.IsEvicted(meta.Key) {
			continue
		}
		out = append(out, meta.Key)
	}
	return out
}

// liveMetas lists the metadata of live, non-evicted members with a key,
// this node's own first.
func (n *Node) liveMetas() []tables.Meta {
	self, _ := n.meta()
	own, _ := tables.DecodeMeta(self)
	out := []tables.Meta{own}
	for _, m := range n.db.Members() {
		if m.Name == n.spec.Name || (m.State != gossip.StateAlive && m.State != gossip.StateSuspect) {
			continue
		}
		meta, err := tables.DecodeMeta(m.Meta)
		if err != nil || meta.Key.IsZero() || n.keys.member.IsEvicted(meta.Key) {
			continue
		}
		out = append(out, meta)
	}
	return out
}
