package keysync

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/keydist"
	"meshnet.dev/meshnet/node/tables"
)

// Sync applies evictions and key grants that arrived by gossip and, on
// the admin node, seals the current keys to members that lack them.
// Called by the reconciler.
func (k *Keys) Sync() {
	k.applyEvictions()
	k.applyGrants()
	if k.issuer != nil {
		k.grantMissing()
	}
}

// applyGrants applies this node's newer key grants in sequence order.
func (k *Keys) applyGrants() {
	_, pub, m := k.identity()
	st := m.State()
	var recs []*keydist.KeyRecord
	for _, e := range k.gossip().Lookup(gossip.ClusterScope, tables.Grants, pub.String()) {
		rec, err := keydist.DecodeKeyRecord(e.Value)
		if err != nil {
			k.reject("malformed grant", e.Owner, err)
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
		if err := k.applyKeyRecord(rec); err != nil {
			k.reject("rejected grant", "", err)
		}
	}
}

// applyKeyRecord opens a grant sealed to this node and puts its keys to
// use: the gossip keyring in memberlist (install, use, remove), the data
// epoch in the WireGuard pairs' preshared keys, and the epoch number in
// this node's metadata so peers agree on which epoch each pair uses.
func (k *Keys) applyKeyRecord(rec *keydist.KeyRecord) error {
	k.applyMu.Lock()
	defer k.applyMu.Unlock()
	mat, err := k.memberState().ApplyKeyRecord(rec)
	if err != nil {
		return err
	}
	if err := mat.Ring.Apply(k.gossip().Keyring()); err != nil {
		k.log.Error("installing new gossip keys", "err", err)
	}
	k.log.Info("applied new cluster keys", "epoch", mat.Epoch.Number, "seq", rec.Seq)
	k.cfg.PublishMeta()
	return nil
}

// applyEvictions puts newly evicted nodes on this node's eviction list and
// drops them as peers at once.
func (k *Keys) applyEvictions() {
	_, pub, m := k.identity()
	k.gossip().Walk(gossip.ClusterScope, tables.Evictions, func(e gossip.Entry) bool {
		rec, err := keydist.DecodeEvictRecord(e.Value)
		if err != nil {
			k.reject("malformed eviction", e.Owner, err)
			return true
		}
		if m.IsEvicted(rec.Node) {
			return true
		}
		added, err := m.ApplyEvictRecord(rec)
		if err != nil {
			k.reject("rejected eviction", e.Owner, err)
			return true
		}
		if added {
			if rec.Node == pub {
				k.log.Error("this node has been evicted from the cluster; it can no longer exchange traffic or keys")
			} else {
				k.log.Warn("node evicted", "node", rec.Name, "key", rec.Node)
			}
			k.dropEvicted(rec.Node)
		}
		return true
	})
}

// reject logs and counts a key record this node refused.
func (k *Keys) reject(what, owner string, err error) {
	k.rejected.Add(1)
	k.log.Warn("refused key record", "what", what, "from", owner, "err", err)
}

// grantMissing (admin) seals the current keys to every live member whose
// grant is missing or older than the current epoch.
func (k *Keys) grantMissing() {
	st := k.issuer.State()
	epoch := st.Epochs.Current.Number
	var lastEviction time.Time
	for _, e := range st.Evicted {
		if e.IssuedAt.After(lastEviction) {
			lastEviction = e.IssuedAt
		}
	}
	self := k.Public()
	var need []keydist.NodePublic
	for _, m := range k.liveMetas() {
		has, granted := false, false
		for _, e := range k.gossip().Lookup(gossip.ClusterScope, tables.Grants, m.Key.String()) {
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
		if !granted && m.Key != self && !lastEviction.IsZero() && !m.Token.After(lastEviction) {
			k.log.Warn("not granting keys to a new node whose join token predates the latest eviction; it needs a fresh token",
				"key", m.Key, "token_issued", m.Token, "last_eviction", lastEviction)
			continue
		}
		need = append(need, m.Key)
	}
	if len(need) > 0 {
		rec, err := k.issuer.Reseal(need)
		if err == nil {
			err = k.publishGrants(rec)
		}
		if err != nil {
			k.log.Error("sealing keys to new members", "err", err)
		}
	}
}

// publishGrants splits rec into per-node grants and publishes them.
func (k *Keys) publishGrants(rec *keydist.KeyRecord) error {
	grants, err := k.issuer.Grants(rec)
	if err != nil {
		return err
	}
	for _, g := range grants {
		if err := k.gossip().Put(gossip.ClusterScope, tables.Grants, g.Recipients[0].To.String(), g.Encode()); err != nil {
			return fmt.Errorf("publishing key grant: %w", err)
		}
	}
	k.cfg.Poke()
	return nil
}

// memberPubs lists the public keys of every non-evicted member this node
// knows, failed and departed ones included (until gossip reaps them): keys
// are sealed to them too, so a member that is down or cut off during a
// rotation finds its grant waiting (by gossip, or by key catch-up) when it
// returns.
func (k *Keys) memberPubs() []keydist.NodePublic {
	out := []keydist.NodePublic{k.Public()}
	for _, m := range k.gossip().Members() {
		if m.Name == k.cfg.Name {
			continue
		}
		meta, err := tables.DecodeMeta(m.Meta)
		if err != nil || meta.Key.IsZero() || k.IsEvicted(meta.Key) {
			continue
		}
		out = append(out, meta.Key)
	}
	return out
}

// liveMetas lists the key, epoch and token time of live, non-evicted
// members with a key, this node's own first.
func (k *Keys) liveMetas() []tables.Meta {
	out := []tables.Meta{{Key: k.Public(), Epoch: k.Epoch(), Token: k.tokenIssued}}
	for _, m := range k.gossip().Members() {
		if m.Name == k.cfg.Name || !tables.Live(m) {
			continue
		}
		meta, err := tables.DecodeMeta(m.Meta)
		if err != nil || meta.Key.IsZero() || k.IsEvicted(meta.Key) {
			continue
		}
		out = append(out, meta)
	}
	return out
}
