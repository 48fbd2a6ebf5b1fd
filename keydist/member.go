package keydist

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"sync"
	"time"
)

// Member applies admin records on one node and keeps the node's key state in
// <stateDir>/cluster.state, saved before any change takes effect. The node
// feeds it every KeyRecord and EvictRecord that arrives (by gossip or any
// other path: records protect themselves) and applies the returned material
// to memberlist (GossipKeyring.Apply) and WireGuard (PairPSK). An admin node
// applies its own records through its Member like everyone else. Safe for
// concurrent use.
type Member struct {
	dir     string
	me      NodePrivate
	pub     NodePublic
	tracker *Tracker

	mu sync.Mutex
	st ClusterState // guarded by mu
}

// JoinMember starts membership from a verified join token (ParseToken): it
// pins the token's admin key and takes its gossip keyring. If the node already
// holds state for the same cluster and admin key, that state is kept, and the
// token's keyring is taken only if the token is newer than the keys held (a
// node that was away for longer than a rotation rejoins with a fresh token).
// State for another cluster or admin key is refused, not overwritten.
func JoinMember(stateDir string, me NodePrivate, tok Token) (*Member, error) {
	if me.IsZero() {
		return nil, fmt.Errorf("join cluster: no node key")
	}
	if tok.ClusterID.IsZero() || tok.AdminPub.IsZero() {
		return nil, fmt.Errorf("join cluster: %w: the token has no cluster id or admin key", ErrMalformed)
	}
	if err := tok.Ring.Validate(); err != nil {
		return nil, fmt.Errorf("join cluster: %w", err)
	}
	st, exists, err := loadState(stateDir, ClusterStateFile)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(stateDir, ClusterStateFile)
	switch {
	case !exists:
		st = ClusterState{ClusterID: tok.ClusterID, Admin: tok.AdminPub, Ring: tok.Ring, KeysIssuedAt: tok.IssuedAt}
	case st.ClusterID != tok.ClusterID:
		return nil, fmt.Errorf("this node belongs to cluster %s and the token is for cluster %s; a node is in one cluster at a time: "+
			"to move it, stop meshnet and remove %s", st.ClusterID, tok.ClusterID, path)
	case !st.Admin.Equal(tok.AdminPub):
		return nil, fmt.Errorf("the token is signed by %s but this node trusts %s for cluster %s; refusing a token from another admin key "+
			"(if the admin key really changed, remove %s and join again)", tok.AdminPub, st.Admin, st.ClusterID, path)
	case tok.IssuedAt.After(st.KeysIssuedAt):
		st.Ring = tok.Ring
		st.KeysIssuedAt = tok.IssuedAt
	}
	if err := saveState(stateDir, ClusterStateFile, st); err != nil {
		return nil, err
	}
	return newMember(stateDir, me, st), nil
}

// OpenMember loads the node's existing membership. Without one the error
// wraps fs.ErrNotExist and says to join with a token.
func OpenMember(stateDir string, me NodePrivate) (*Member, error) {
	if me.IsZero() {
		return nil, fmt.Errorf("open cluster state: no node key")
	}
	st, exists, err := loadState(stateDir, ClusterStateFile)
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, fmt.Errorf("no cluster state at %s, so this node has not joined a cluster; start it with a join token from `meshnet token`: %w",
			filepath.Join(stateDir, ClusterStateFile), fs.ErrNotExist)
	}
	return newMember(stateDir, me, st), nil
}

func newMember(dir string, me NodePrivate, st ClusterState) *Member {
	m := &Member{dir: dir, me: me, pub: me.Public(), tracker: NewTracker(), st: st}
	if st.Seq > 0 {
		// Cannot fail on a fresh tracker.
		_ = m.tracker.Accept(st.ClusterID, st.Seq)
	}
	return m
}

// State returns a copy of the current key state.
func (m *Member) State() ClusterState {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st.clone()
}

// IsEvicted reports whether pub is on the eviction list. The node refuses
// evicted nodes as gossip members and WireGuard peers.
func (m *Member) IsEvicted(pub NodePublic) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st.IsEvicted(pub)
}

// PairPSK returns the preshared key for the pair with peer, whose applied
// epoch is peerEpoch, and the epoch number it belongs to (see
// Epochs.ForPeer).
func (m *Member) PairPSK(peer NodePublic, peerEpoch uint64) (SymmetricKey, uint64) {
	m.mu.Lock()
	e := m.st.Epochs.ForPeer(peerEpoch)
	m.mu.Unlock()
	return PairPSK(e, m.pub, peer), e.Number
}

// ApplyKeyRecord checks rec (cluster, admin signature, sequence), opens the
// material sealed to this node, saves the new state and returns the material
// for the node to apply. Rejections wrap ErrWrongCluster, ErrBadSignature,
// ErrReplayed, ErrNotRecipient or ErrMalformed and change nothing.
func (m *Member) ApplyKeyRecord(rec *KeyRecord) (Material, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if rec.ClusterID != m.st.ClusterID {
		return Material{}, fmt.Errorf("key record seq %d for cluster %s, this node is in %s: %w", rec.Seq, rec.ClusterID, m.st.ClusterID, ErrWrongCluster)
	}
	// Signature before sequence: an unsigned record must not move the
	// tracker or learn anything from it.
	if err := rec.Verify(m.st.Admin); err != nil {
		return Material{}, err
	}
	if err := m.tracker.Check(rec.ClusterID, rec.Seq); err != nil {
		return Material{}, err
	}
	// A record issued before the keys this node holds (a join token newer
	// than a grant still in gossip) would take it back to older keys.
	if rec.IssuedAt.Before(m.st.KeysIssuedAt) {
		return Material{}, fmt.Errorf("%w: key record seq %d was issued at %s, before the keys this node holds (%s)",
			ErrReplayed, rec.Seq, rec.IssuedAt.UTC().Format(time.RFC3339Nano), m.st.KeysIssuedAt.UTC().Format(time.RFC3339Nano))
	}
	mat, err := rec.Open(m.me)
	if err != nil {
		return Material{}, err
	}
	cur := m.st.Epochs.Current
	switch {
	case mat.Epoch.Number < cur.Number:
		return Material{}, fmt.Errorf("%w: key record seq %d carries epoch %d, older than the current epoch %d", ErrMalformed, rec.Seq, mat.Epoch.Number, cur.Number)
	case mat.Epoch.Number == cur.Number && !mat.Epoch.Key.Equal(cur.Key):
		return Material{}, fmt.Errorf("%w: key record seq %d carries a different key for the current epoch %d", ErrMalformed, rec.Seq, cur.Number)
	}
	next := m.st.clone()
	next.Seq = rec.Seq
	next.Ring = mat.Ring
	next.Epochs = next.Epochs.Advance(mat.Epoch)
	if rec.IssuedAt.After(next.KeysIssuedAt) {
		next.KeysIssuedAt = rec.IssuedAt
	}
	if err := saveState(m.dir, ClusterStateFile, next); err != nil {
		return Material{}, fmt.Errorf("apply key record seq %d: %w", rec.Seq, err)
	}
	if err := m.tracker.Accept(rec.ClusterID, rec.Seq); err != nil {
		return Material{}, err // unreachable: checked under the same lock
	}
	m.st = next
	return mat, nil
}

// ApplyEvictRecord checks rec (cluster, admin signature) and puts its node on
// the eviction list, saved before it returns. added is false if the node was
// already evicted: eviction records are idempotent and may arrive in any
// order, so they are not sequence-checked.
func (m *Member) ApplyEvictRecord(rec *EvictRecord) (added bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if rec.ClusterID != m.st.ClusterID {
		return false, fmt.Errorf("eviction record seq %d for cluster %s, this node is in %s: %w", rec.Seq, rec.ClusterID, m.st.ClusterID, ErrWrongCluster)
	}
	if err := rec.Verify(m.st.Admin); err != nil {
		return false, err
	}
	next, added, err := m.st.withEviction(Eviction{Node: rec.Node, Name: rec.Name, Seq: rec.Seq, IssuedAt: rec.IssuedAt})
	if err != nil || !added {
		return false, err
	}
	if err := saveState(m.dir, ClusterStateFile, next); err != nil {
		return false, fmt.Errorf("apply eviction of %s: %w", rec.Node, err)
	}
	m.st = next
	return true, nil
}
