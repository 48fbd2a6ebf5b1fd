package keysync

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/keydist"

	"meshnet.dev/meshnet/node/tables"
)

// Key catch-up: a member that missed two gossip key rotations (it was down,
// or cut off) can no longer read or write gossip, so it cannot receive the
// grant sealed to it by gossip either. It asks a peer for that grant as a
// gossip side request instead: outside gossip encryption, because the grant
// protects itself (sealed to the member's key, signed by the admin key).
// Anyone may ask for any key's grant and learn nothing from it.
//
//	request: "mnk1" | cluster id (16) | node public key (32) | seq held (8)
//	answer:  the newest grant for that key with a greater seq, encoded
const keyRequestMagic = "mnk1"

const keyRequestLen = len(keyRequestMagic) + keydist.ClusterIDLen + keydist.NodeKeyLen + 8

// Rate limits on the admin's answers that seal keys afresh (the costly
// ones, which also write the issuer state).
const (
	resealPerNodeEvery = 10 * time.Second
	resealEvery        = 200 * time.Millisecond
	// catchUpPeers bounds the peers asked in one catch-up round.
	catchUpPeers = 8
	// keyWatchPeers is how many members a key watch round asks.
	keyWatchPeers = 3
	// keyWatchEvery and keyWatchIdle space key watch rounds: often while
	// they bring keys, seldom while they bring nothing.
	keyWatchEvery = time.Second
	keyWatchIdle  = 5 * time.Second
)

// keyRequest asks for the newest grant sealed to node.
type keyRequest struct {
	cluster keydist.ClusterID
	node    keydist.NodePublic
	seq     uint64
}

func (r keyRequest) encode() []byte {
	b := make([]byte, 0, keyRequestLen)
	b = append(b, keyRequestMagic...)
	b = append(b, r.cluster[:]...)
	pub := r.node.Raw32()
	b = append(b, pub[:]...)
	return binary.BigEndian.AppendUint64(b, r.seq)
}

func decodeKeyRequest(b []byte) (keyRequest, error) {
	if len(b) != keyRequestLen || string(b[:len(keyRequestMagic)]) != keyRequestMagic {
		return keyRequest{}, fmt.Errorf("not a key request (%d bytes)", len(b))
	}
	b = b[len(keyRequestMagic):]
	var r keyRequest
	copy(r.cluster[:], b)
	b = b[keydist.ClusterIDLen:]
	r.node = keydist.NodePublicFromRaw32([keydist.NodeKeyLen]byte(b))
	r.seq = binary.BigEndian.Uint64(b[keydist.NodeKeyLen:])
	if r.node.IsZero() {
		return keyRequest{}, errors.New("key request for the zero key")
	}
	return r, nil
}

// resealLimiter spaces out the admin's fresh seals, per node and overall.
type resealLimiter struct {
	mu     sync.Mutex
	last   time.Time
	byNode map[keydist.NodePublic]time.Time
}

func (l *resealLimiter) allow(node keydist.NodePublic, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.last) < resealEvery || now.Sub(l.byNode[node]) < resealPerNodeEvery {
		return false
	}
	if l.byNode == nil || len(l.byNode) > 4096 {
		l.byNode = map[keydist.NodePublic]time.Time{}
	}
	l.last, l.byNode[node] = now, now
	return true
}

// AnswerKeyRequest is the gossip side-request handler: the newest grant
// for the asking key, if newer than what it holds. The admin node seals the
// current keys afresh to a known, non-evicted member whose newest grant is
// of an older epoch. Anything else gets no answer.
func (k *Keys) AnswerKeyRequest(b []byte) []byte {
	if k.links.Load() == nil {
		return nil // gossip is up, the node not yet
	}
	req, err := decodeKeyRequest(b)
	if err != nil {
		k.refused.Add(1)
		return nil
	}
	m := k.memberState()
	if req.cluster != m.State().ClusterID || m.IsEvicted(req.node) {
		k.refused.Add(1)
		return nil
	}
	best, granted := k.newestGrant(req.node)
	if !granted && !k.knownMember(req.node) {
		k.refused.Add(1)
		return nil
	}
	if is := k.issuer; is != nil {
		cur := is.State().Epochs.Current.Number
		if (best == nil || best.Epoch != cur) && k.resealLimit.allow(req.node, time.Now()) {
			if rec, err := k.resealTo(req.node); err == nil {
				best = rec
			} else {
				k.log.Error("sealing keys to a member catching up", "key", req.node, "err", err)
			}
		}
	}
	if best == nil || best.Seq <= req.seq {
		return nil
	}
	k.served.Add(1)
	return best.Encode()
}

// newestGrant returns the newest grant for pub in the grants table, and
// whether any grant for it exists.
func (k *Keys) newestGrant(pub keydist.NodePublic) (*keydist.KeyRecord, bool) {
	var best *keydist.KeyRecord
	known := false
	for _, e := range k.gossip().Lookup(gossip.ClusterScope, tables.Grants, pub.String()) {
		rec, err := keydist.DecodeKeyRecord(e.Value)
		if err != nil || !rec.Has(pub) {
			continue
		}
		known = true
		if best == nil || rec.Seq > best.Seq {
			best = rec
		}
	}
	return best, known
}

// knownMember reports whether pub belongs to a node in the member list, in
// any state.
func (k *Keys) knownMember(pub keydist.NodePublic) bool {
	for _, m := range k.gossip().Members() {
		if meta, err := tables.DecodeMeta(m.Meta); err == nil && meta.Key == pub {
			return true
		}
	}
	return false
}

// resealTo (admin) seals the current keys to pub and publishes the grant.
func (k *Keys) resealTo(pub keydist.NodePublic) (*keydist.KeyRecord, error) {
	rec, err := k.issuer.Reseal([]keydist.NodePublic{pub})
	if err != nil {
		return nil, err
	}
	if err := k.publishGrants(rec); err != nil {
		return nil, err
	}
	grants, err := k.issuer.Grants(rec)
	if err != nil || len(grants) != 1 {
		return nil, fmt.Errorf("splitting the grant: %v", err)
	}
	return grants[0], nil
}

// CatchUp asks peers at addrs (gossip host:port) for keys this node
// missed, applying the first newer grant. It reports whether it applied
// one, after which joining through gossip can work again.
func (k *Keys) CatchUp(addrs []string) bool {
	_, pub, m := k.identity()
	st := m.State()
	req := keyRequest{cluster: st.ClusterID, node: pub, seq: st.Seq}.encode()
	addrs = append([]string(nil), addrs...)
	rand.Shuffle(len(addrs), func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })
	addrs = addrs[:min(len(addrs), catchUpPeers)]
	// Ask all at once: dead addresses cost a dial timeout each.
	type answer struct {
		addr string
		b    []byte
	}
	answers := make(chan answer, len(addrs))
	db := k.gossip()
	for _, addr := range addrs {
		go func() {
			b, err := db.SideRequest(addr, req)
			if err != nil {
				b = nil
			}
			answers <- answer{addr, b}
		}()
	}
	applied := false
	for range addrs {
		a := <-answers
		if a.b == nil || applied {
			continue
		}
		rec, err := keydist.DecodeKeyRecord(a.b)
		if err != nil {
			k.reject("malformed catch-up grant", a.addr, err)
			continue
		}
		if err := k.applyKeyRecord(rec); err != nil {
			if !errors.Is(err, keydist.ErrReplayed) { // another peer's answer came first
				k.reject("rejected catch-up grant", a.addr, err)
			}
			continue
		}
		k.log.Info("caught up on cluster keys missed while away", "from", a.addr, "epoch", rec.Epoch)
		k.applied.Add(1)
		applied = true
	}
	return applied
}

// watch starts the key watch: it notices that gossip stopped decrypting,
// the sign that this node missed key rotations (or a peer did), and asks a
// few members for newer keys at once, rather than waiting for the
// reconnect loop: with rotations seconds apart a node would fall behind
// again in the meantime. Asking costs a peer a table lookup; the answer is
// empty when this node is current. The returned function stops the watch
// and waits for its goroutine.
func (k *Keys) watch() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		k.watchLoop(ctx)
	}()
	return func() { cancel(); <-done }
}

func (k *Keys) watchLoop(ctx context.Context) {
	db := k.gossip()
	last := db.Stats().Dropped["undecryptable"]
	wait := keyWatchEvery
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		now := db.Stats().Dropped["undecryptable"]
		if now == last {
			wait = keyWatchEvery
			continue
		}
		last = now
		wait = keyWatchIdle
		addrs := k.watchAddrs()
		if len(addrs) > 0 && k.CatchUp(addrs) {
			wait = keyWatchEvery
			k.rejoinFailed()
		}
	}
}

// watchAddrs picks members to ask: every failed or suspect one (they may
// be failed because this node cannot read them) and a few alive ones.
func (k *Keys) watchAddrs() []string {
	var out, alive []string
	for _, m := range k.gossip().Members() {
		if m.Name == k.cfg.Name || !m.Addr.IsValid() {
			continue
		}
		switch m.State {
		case gossip.StateFailed, gossip.StateSuspect:
			out = append(out, m.Addr.String())
		case gossip.StateAlive:
			alive = append(alive, m.Addr.String())
		}
	}
	rand.Shuffle(len(alive), func(i, j int) { alive[i], alive[j] = alive[j], alive[i] })
	return append(out, alive[:min(len(alive), keyWatchPeers)]...)
}

// rejoinFailed joins failed members again after new keys arrived.
func (k *Keys) rejoinFailed() {
	var addrs []string
	for _, m := range k.gossip().Members() {
		if m.State == gossip.StateFailed && m.Addr.IsValid() {
			addrs = append(addrs, m.Addr.String())
		}
	}
	if len(addrs) > 0 {
		if n, err := k.gossip().Join(addrs); err == nil && n > 0 {
			k.log.Info("rejoined members after catching up on keys", "answered", n)
		}
	}
}
