package keysync

import (
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/keydist"
	"meshnet.dev/meshnet/node/tables"
)

// Gossip is what key sync needs of the gossip DB; *gossip.DB implements
// it.
type Gossip interface {
	Lookup(network, table, key string) []gossip.Entry
	Walk(network, table string, fn func(gossip.Entry) bool)
	Put(network, table, key string, value []byte) error
	Members() []gossip.Member
	Join(addrs []string) (int, error)
	SideRequest(addr string, req []byte) ([]byte, error)
	Keyring() *memberlist.Keyring
	Stats() gossip.Stats
}

// WireGuard is what key sync needs of the encrypted transport.
type WireGuard interface {
	SetPeers([]encap.WGPeer) error
	RemovePeer(pub [32]byte) error
	SetPrivateKey(k encap.UAPIKey, vtep netip.Addr) error
}

// Config is what key sync is started with.
type Config struct {
	StateDir string
	Name     string // this node's name in gossip
	// Token is the join token from the configuration, if any.
	Token string
	// Rotation is the admin's rotation interval.
	Rotation time.Duration
	Logger   *slog.Logger
	// PublishMeta republishes this node's metadata after its key or epoch
	// changed. It may call back into Keys (Public, Epoch, TokenIssued).
	PublishMeta func()
	// Poke asks the node's reconciler for a pass soon; it never blocks.
	Poke func()
	// DropPeer takes an evicted node out of the forwarding table at once.
	DropPeer func(keydist.NodePublic)
	// Joined reports whether the node has joined its cluster since it
	// started; an admin that has not postpones scheduled rotations.
	Joined func() bool
	// BehindNAT reports whether members see this node through a NAT,
	// which forgets an idle mapping; nil means never.
	BehindNAT func() bool
}

// Keys is this node's identity and its view of the cluster's keys.
//
// Goroutines: the reconciler calls Sync and PairPeers; the control API
// calls the admin operations and RotateNodeKey; gossip calls Admit and
// AnswerKeyRequest; the join loops call CatchUp; Keys owns the key watch
// goroutine and, on the admin, the rotator's, both stopped by Close.
//
// Locks: applyMu lets one key record, or one identity change, be applied
// at a time, keyring and metadata included, so they never interleave.
// mu guards the identity (node, pub, member) for the moments it is read or
// replaced; it is never held while calling out. Lock order: applyMu, mu.
type Keys struct {
	cfg         Config
	log         *slog.Logger
	issuer      *keydist.Issuer // nil unless this node holds the admin key; never replaced
	tokenIssued time.Time       // when the join token this run started with was issued

	applyMu sync.Mutex

	mu     sync.Mutex
	node   keydist.NodePrivate
	pub    keydist.NodePublic
	member *keydist.Member

	// links is set once by Attach. Gossip may call AnswerKeyRequest before
	// that (it starts listening before the node can attach it), which is
	// why it is an atomic pointer; everything else runs after Attach.
	links atomic.Pointer[links]

	rotator     atomic.Pointer[keydist.Rotator] // admin only; replaced by SetRotation
	rotatorMu   sync.Mutex                      // serialises replacing the rotator
	resealLimit resealLimiter
	stopWatch   func()

	rejected atomic.Uint64 // key records refused
	served   atomic.Uint64 // grants handed to members catching up
	applied  atomic.Uint64 // grants this node caught up with
	refused  atomic.Uint64 // key requests refused (malformed, foreign, evicted)
}

// Status is what people are told about the keys.
type Status struct {
	Cluster   keydist.ClusterID
	PublicKey keydist.NodePublic
	Admin     bool
	Epoch     uint64
	Evicted   int
	Rejected  uint64 // key records refused
	// Catch-up: grants served to members, applied here, requests refused.
	Served, Applied, Refused uint64
}

// identity returns the node's current key and membership.
func (k *Keys) identity() (keydist.NodePrivate, keydist.NodePublic, *keydist.Member) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.node, k.pub, k.member
}

func (k *Keys) memberState() *keydist.Member {
	_, _, m := k.identity()
	return m
}

// Private is the node's identity key, the WireGuard static key.
func (k *Keys) Private() keydist.NodePrivate {
	priv, _, _ := k.identity()
	return priv
}

// Public is the node's public key.
func (k *Keys) Public() keydist.NodePublic {
	_, pub, _ := k.identity()
	return pub
}

// VTEP is this node's address inside the encrypted transport.
func (k *Keys) VTEP() netip.Addr { return keydist.VTEP(k.Public()) }

// TokenIssued is when the join token this run started with was issued
// (zero without one).
func (k *Keys) TokenIssued() time.Time { return k.tokenIssued }

// Epoch is the data epoch this node has applied.
func (k *Keys) Epoch() uint64 { return k.memberState().State().Epochs.Current.Number }

// HoldsKeys reports whether this node holds cluster data keys, without
// which it can neither send nor receive on an encrypted network.
func (k *Keys) HoldsKeys() bool { return k.Epoch() != 0 }

// IsEvicted reports whether pub is on this node's eviction list.
func (k *Keys) IsEvicted(pub keydist.NodePublic) bool { return k.memberState().IsEvicted(pub) }

// Admin reports whether this node holds the admin key.
func (k *Keys) Admin() bool { return k.issuer != nil }

// GossipKeys is the memberlist keyring to start gossip with.
func (k *Keys) GossipKeys() (keys [][]byte, primary int) {
	p, all := k.memberState().State().Ring.MemberlistKeys()
	for i, key := range all {
		if string(key) == string(p) {
			primary = i
		}
	}
	return all, primary
}

// Status reports the keys for people: never a key itself.
func (k *Keys) Status() Status {
	_, pub, m := k.identity()
	st := m.State()
	return Status{Cluster: st.ClusterID, PublicKey: pub, Admin: k.issuer != nil, Epoch: st.Epochs.Current.Number,
		Evicted: len(st.Evicted), Rejected: k.rejected.Load(), Served: k.served.Load(), Applied: k.applied.Load(), Refused: k.refused.Load()}
}

// links are what key sync talks to once attached.
type links struct {
	db      Gossip
	wg      WireGuard // nil without an encrypted transport
	started time.Time // when the node attached key sync: its start
}

// Attach connects key sync to gossip and (if there is one) the encrypted
// transport; wg may be nil. Call it once, right after gossip starts and
// before Start.
func (k *Keys) Attach(db Gossip, wg WireGuard) {
	k.links.Store(&links{db: db, wg: wg, started: time.Now()})
}

// gossip is the attached gossip DB.
func (k *Keys) gossip() Gossip { return k.links.Load().db }

// Start starts the key watch and, on the admin node, the rotation
// schedule.
func (k *Keys) Start() error {
	if k.issuer != nil {
		if err := k.SetRotation(k.cfg.Rotation); err != nil {
			return err
		}
	}
	k.stopWatch = k.watch()
	return nil
}

// Close stops the goroutines Start started and waits for them.
func (k *Keys) Close() {
	if k.stopWatch != nil {
		k.stopWatch()
	}
	k.rotatorMu.Lock()
	defer k.rotatorMu.Unlock()
	if r := k.rotator.Swap(nil); r != nil {
		r.Close()
	}
}

// Admit is gossip's admission check: it refuses members that hold an
// evicted key.
func (k *Keys) Admit(name string, meta []byte) error {
	m, err := tables.DecodeMeta(meta)
	if err == nil && !m.Key.IsZero() && k.IsEvicted(m.Key) {
		return fmt.Errorf("node %s holds an evicted key", name)
	}
	return nil
}
