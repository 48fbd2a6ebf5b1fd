package keydist

import (
	"crypto/rand"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"sync"
	"time"
)

// IssuerConfig configures an Issuer.
type IssuerConfig struct {
	// StateDir holds issuer.state (and, by convention, admin.key).
	StateDir string
	// Key is the admin signing key (LoadAdminKey).
	Key AdminPrivate
	// Clock stamps records and tokens; SystemClock() in production.
	Clock Clock
	// Rand is the entropy source; nil means crypto/rand.Reader.
	Rand io.Reader
}

// Issuer produces the admin's records: key rotations, reseals for new
// members, evictions and join tokens. Every change is saved to
// <StateDir>/issuer.state before the record is returned, so a record is only
// published once it cannot be forgotten. Safe for concurrent use.
//
// Sequence numbers are max(last+1, issue time in Unix ns), and a new epoch's
// number is the sequence of the record that introduces it, so both keep
// increasing even if issuer.state is restored from an old backup.
type Issuer struct {
	cfg IssuerConfig

	mu sync.Mutex
	st ClusterState // guarded by mu
}

// CreateCluster starts a new cluster: a fresh cluster id, gossip keyring and
// data epoch. It refuses to run where issuer.state already exists.
func CreateCluster(cfg IssuerConfig) (*Issuer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if _, exists, err := loadState(cfg.StateDir, IssuerStateFile); err != nil || exists {
		if err == nil {
			err = fmt.Errorf("a cluster was already created here (%s); use it, or remove that file to start over",
				filepath.Join(cfg.StateDir, IssuerStateFile))
		}
		return nil, fmt.Errorf("create cluster: %w", err)
	}
	id, err := NewClusterID(cfg.Rand)
	if err != nil {
		return nil, err
	}
	ring, err := NewGossipKeyring(cfg.Rand)
	if err != nil {
		return nil, err
	}
	is := &Issuer{cfg: cfg, st: ClusterState{ClusterID: id, Admin: cfg.Key.Public(), Ring: ring}}
	now := cfg.Clock.Now()
	seq := is.nextSeqLocked(now)
	key, err := NewSymmetricKey(cfg.Rand)
	if err != nil {
		return nil, err
	}
	is.st.Seq = seq
	is.st.Epochs = Epochs{Current: Epoch{Number: seq, Key: key}}
	is.st.KeysIssuedAt = now
	if err := saveState(cfg.StateDir, IssuerStateFile, is.st); err != nil {
		return nil, fmt.Errorf("create cluster: %w", err)
	}
	return is, nil
}

// OpenIssuer loads the issuing state of an existing cluster.
func OpenIssuer(cfg IssuerConfig) (*Issuer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	path := filepath.Join(cfg.StateDir, IssuerStateFile)
	st, exists, err := loadState(cfg.StateDir, IssuerStateFile)
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, fmt.Errorf("no issuer state at %s: this is not the admin node of a cluster", path)
	}
	if !st.Admin.Equal(cfg.Key.Public()) {
		return nil, fmt.Errorf("%s belongs to admin key %s, but the admin key given is %s; use the matching admin.key", path, st.Admin, cfg.Key.Public())
	}
	return &Issuer{cfg: cfg, st: st}, nil
}

func (c IssuerConfig) withDefaults() IssuerConfig {
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	if c.Clock == nil {
		c.Clock = SystemClock()
	}
	return c
}

func (c IssuerConfig) check() error {
	if c.StateDir == "" {
		return fmt.Errorf("issuer: no state directory configured")
	}
	if c.Key.IsZero() {
		return fmt.Errorf("issuer: no admin key; load it with LoadAdminKey")
	}
	return nil
}

// State returns a copy of the issuing state.
func (is *Issuer) State() ClusterState {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.st.clone()
}

// nextSeqLocked returns the next sequence number.
func (is *Issuer) nextSeqLocked(now time.Time) uint64 {
	seq := is.st.Seq + 1
	if ns := now.UnixNano(); ns > 0 && uint64(ns) > seq {
		seq = uint64(ns)
	}
	return seq
}

// commitLocked saves next and makes it current.
func (is *Issuer) commitLocked(next ClusterState) error {
	if err := saveState(is.cfg.StateDir, IssuerStateFile, next); err != nil {
		return err
	}
	is.st = next
	return nil
}

// recipientsLocked drops evicted nodes from members.
func (is *Issuer) recipientsLocked(members []NodePublic) []NodePublic {
	out := make([]NodePublic, 0, len(members))
	for _, m := range members {
		if !is.st.IsEvicted(m) {
			out = append(out, m)
		}
	}
	return out
}

// Rotate starts a new data epoch and rotates the gossip keyring, sealed to
// members (evicted nodes are left out whatever the caller passes). A regular
// rotation shifts the keyring by one key; an emergency rotation (after an
// eviction) replaces the primary and next keys at once (GossipKeyring.Emergency).
func (is *Issuer) Rotate(members []NodePublic, emergency bool) (*KeyRecord, error) {
	is.mu.Lock()
	defer is.mu.Unlock()
	now := is.cfg.Clock.Now()
	seq := is.nextSeqLocked(now)
	fresh := make([]SymmetricKey, 3)
	for i := range fresh {
		k, err := NewSymmetricKey(is.cfg.Rand)
		if err != nil {
			return nil, fmt.Errorf("rotate keys: %w", err)
		}
		fresh[i] = k
	}
	next := is.st.clone()
	next.Seq = seq
	next.KeysIssuedAt = now
	next.Epochs = next.Epochs.Advance(Epoch{Number: seq, Key: fresh[0]})
	if emergency {
		next.Ring = next.Ring.Emergency(fresh[1], fresh[2])
	} else {
		next.Ring = next.Ring.Rotate(fresh[1])
	}
	return is.publishLocked(next, now, members, "rotate keys")
}

// Restage starts a new data epoch and replaces the staged next gossip key
// (GossipKeyring.Restage), sealed to members, leaving evicted nodes out. It
// is the first step of an eviction: follow it with a regular Rotate once the
// members have applied it, so they can still read the gossip that carries
// this record.
func (is *Issuer) Restage(members []NodePublic) (*KeyRecord, error) {
	is.mu.Lock()
	defer is.mu.Unlock()
	now := is.cfg.Clock.Now()
	seq := is.nextSeqLocked(now)
	epochKey, err := NewSymmetricKey(is.cfg.Rand)
	if err != nil {
		return nil, fmt.Errorf("restage keys: %w", err)
	}
	next, err := NewSymmetricKey(is.cfg.Rand)
	if err != nil {
		return nil, fmt.Errorf("restage keys: %w", err)
	}
	st := is.st.clone()
	st.Seq = seq
	st.KeysIssuedAt = now
	st.Epochs = st.Epochs.Advance(Epoch{Number: seq, Key: epochKey})
	st.Ring = st.Ring.Restage(next)
	return is.publishLocked(st, now, members, "restage keys")
}

// Reseal seals the current keys to members under a new sequence number, so
// nodes that joined since the last rotation receive the data epoch.
func (is *Issuer) Reseal(members []NodePublic) (*KeyRecord, error) {
	is.mu.Lock()
	defer is.mu.Unlock()
	now := is.cfg.Clock.Now()
	next := is.st.clone()
	next.Seq = is.nextSeqLocked(now)
	return is.publishLocked(next, now, members, "reseal keys")
}

// publishLocked seals st's keys to members and, once sealed, makes st
// current; what names the operation in errors.
func (is *Issuer) publishLocked(st ClusterState, now time.Time, members []NodePublic, what string) (*KeyRecord, error) {
	rec, err := is.sealLocked(st, now, members)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := is.commitLocked(st); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return rec, nil
}

func (is *Issuer) sealLocked(st ClusterState, now time.Time, members []NodePublic) (*KeyRecord, error) {
	m := Material{ClusterID: st.ClusterID, Epoch: st.Epochs.Current, Ring: st.Ring}
	return SealKeyRecord(is.cfg.Key, st.Seq, now, m, is.recipientsLocked(members), is.cfg.Rand)
}

// Evict signs an eviction of node and puts it on the issuer's eviction list,
// so no later record is sealed to it. The caller publishes the record and
// then rotates with emergency set (Rotator.Trigger(ReasonEviction)).
func (is *Issuer) Evict(node NodePublic, name string) (*EvictRecord, error) {
	is.mu.Lock()
	defer is.mu.Unlock()
	now := is.cfg.Clock.Now()
	next := is.st.clone()
	next.Seq = is.nextSeqLocked(now)
	rec, err := SignEvictRecord(is.cfg.Key, next.ClusterID, next.Seq, now, node, name)
	if err != nil {
		return nil, err
	}
	next, _, err = next.withEviction(Eviction{Node: node, Name: name, Seq: rec.Seq, IssuedAt: now})
	if err != nil {
		return nil, fmt.Errorf("evict %s: %w", node, err)
	}
	if err := is.commitLocked(next); err != nil {
		return nil, fmt.Errorf("evict %s: %w", node, err)
	}
	return rec, nil
}

// IssueToken returns a join token valid for ttl, carrying the current gossip
// keyring, and its text form. A token stops being useful once the cluster
// has rotated twice after it was issued, so keep ttl below the rotation
// interval (one hour is a good default).
func (is *Issuer) IssueToken(bootstrap []netip.AddrPort, ttl time.Duration) (string, Token, error) {
	if ttl <= 0 {
		return "", Token{}, fmt.Errorf("issue join token: validity %s must be positive", ttl)
	}
	is.mu.Lock()
	now := is.cfg.Clock.Now()
	tok := Token{
		ClusterID: is.st.ClusterID,
		Bootstrap: append([]netip.AddrPort(nil), bootstrap...),
		AdminPub:  is.st.Admin,
		Ring:      is.st.Ring,
		IssuedAt:  now,
		Expiry:    now.Add(ttl),
	}
	is.mu.Unlock()
	s, err := EncodeToken(tok, is.cfg.Key)
	if err != nil {
		return "", Token{}, err
	}
	return s, tok, nil
}

// Grants splits rec into one record per recipient, each carrying only that
// recipient's sealed material and signed anew. A grant is a few hundred
// bytes whatever the cluster size, so grants travel as small gossip entries
// (one per node) where a record sealed to thousands of nodes could not.
// Members apply a grant exactly like the full record.
func (is *Issuer) Grants(rec *KeyRecord) ([]*KeyRecord, error) {
	out := make([]*KeyRecord, 0, len(rec.Recipients))
	for _, s := range rec.Recipients {
		g := &KeyRecord{ClusterID: rec.ClusterID, Seq: rec.Seq, IssuedAt: rec.IssuedAt, Epoch: rec.Epoch,
			Recipients: []Sealed{s}}
		sig, err := is.cfg.Key.sign(sigContextKeyRecord, g.body())
		if err != nil {
			return nil, fmt.Errorf("sign key grant for %s: %w", s.To, err)
		}
		g.Signature = sig
		out = append(out, g)
	}
	return out, nil
}
