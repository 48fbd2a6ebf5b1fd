package keysync

import (
	crand "crypto/rand"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/keydist"
	"meshnet.dev/meshnet/node/tables"
)

// fakeNet is the gossip key sync sees, for a handful of nodes in one test:
// one table store all read, members with their metadata, and side
// requests answered in process.
type fakeNet struct {
	mu      sync.Mutex
	rows    map[[2]string][]gossip.Entry // scope, table → entries
	members map[string]gossip.Member
	sides   map[string]func([]byte) []byte // gossip address → handler
	ltime   uint64
}

func newFakeNet() *fakeNet {
	return &fakeNet{rows: map[[2]string][]gossip.Entry{}, members: map[string]gossip.Member{}, sides: map[string]func([]byte) []byte{}}
}

// fakeGossip is one node's view of a fakeNet.
type fakeGossip struct {
	net           *fakeNet
	name          string
	ring          *memberlist.Keyring
	undecryptable atomic.Uint64
}

func (g *fakeGossip) Put(scope, table, key string, value []byte) error {
	n := g.net
	n.mu.Lock()
	defer n.mu.Unlock()
	n.ltime++
	k := [2]string{scope, table}
	rows := n.rows[k][:0:0]
	for _, e := range n.rows[k] {
		if e.Key != key || e.Owner != g.name {
			rows = append(rows, e)
		}
	}
	n.rows[k] = append(rows, gossip.Entry{Network: scope, Table: table, Key: key, Owner: g.name, Value: value, LTime: n.ltime})
	return nil
}

func (g *fakeGossip) Lookup(scope, table, key string) []gossip.Entry {
	var out []gossip.Entry
	g.Walk(scope, table, func(e gossip.Entry) bool {
		if e.Key == key {
			out = append(out, e)
		}
		return true
	})
	return out
}

func (g *fakeGossip) Walk(scope, table string, fn func(gossip.Entry) bool) {
	g.net.mu.Lock()
	rows := append([]gossip.Entry(nil), g.net.rows[[2]string{scope, table}]...)
	g.net.mu.Unlock()
	for _, e := range rows {
		if !fn(e) {
			return
		}
	}
}

func (g *fakeGossip) Members() []gossip.Member {
	g.net.mu.Lock()
	defer g.net.mu.Unlock()
	var out []gossip.Member
	for _, m := range g.net.members {
		out = append(out, m)
	}
	return out
}

func (g *fakeGossip) Join(addrs []string) (int, error) { return len(addrs), nil }

func (g *fakeGossip) SideRequest(addr string, req []byte) ([]byte, error) {
	g.net.mu.Lock()
	h := g.net.sides[addr]
	g.net.mu.Unlock()
	if h == nil {
		return nil, errNoSuchAddr
	}
	return h(req), nil
}

func (g *fakeGossip) Keyring() *memberlist.Keyring { return g.ring }

func (g *fakeGossip) Stats() gossip.Stats {
	return gossip.Stats{Dropped: map[string]uint64{"undecryptable": g.undecryptable.Load()}}
}

type errString string

func (e errString) Error() string { return string(e) }

const errNoSuchAddr = errString("no node at that address")

// fakeWG records what key sync configures in WireGuard.
type fakeWG struct {
	mu      sync.Mutex
	peers   []encap.WGPeer
	removed [][32]byte
	key     encap.UAPIKey
}

func (w *fakeWG) SetPeers(p []encap.WGPeer) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.peers = append([]encap.WGPeer(nil), p...)
	return nil
}

func (w *fakeWG) RemovePeer(pub [32]byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.removed = append(w.removed, pub)
	return nil
}

func (w *fakeWG) SetPrivateKey(k encap.UAPIKey, _ netip.Addr) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.key = k
	return nil
}

// peer returns the WireGuard peer configured for pub.
func (w *fakeWG) peer(pub keydist.NodePublic) (encap.WGPeer, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range w.peers {
		if p.PublicKey == pub.Raw32() {
			return p, true
		}
	}
	return encap.WGPeer{}, false
}

// testNode is Keys on fakes, with what its callbacks saw.
type testNode struct {
	k       *Keys
	g       *fakeGossip
	wg      *fakeWG
	addr    string
	mu      sync.Mutex
	dropped []keydist.NodePublic
}

// addNode loads the keys of node name (a new cluster for the first node,
// else joining with a token from admin) and puts it in the member list.
func addNode(t *testing.T, net *fakeNet, name string, admin *testNode) *testNode {
	t.Helper()
	tn := &testNode{wg: &fakeWG{}, addr: "192.0.2." + name[len(name)-1:] + ":7946"}
	cfg := Config{StateDir: t.TempDir(), Name: name, Rotation: time.Hour,
		PublishMeta: func() { tn.publish() }, Poke: func() {},
		DropPeer: func(p keydist.NodePublic) { tn.mu.Lock(); tn.dropped = append(tn.dropped, p); tn.mu.Unlock() },
		Joined:   func() bool { return true }}
	if admin != nil {
		text, _, err := admin.k.IssueToken(nil, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Token = text
	}
	k, _, err := Load(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	keys, primary := k.GossipKeys()
	ring, err := memberlist.NewKeyring(keys, keys[primary])
	if err != nil {
		t.Fatal(err)
	}
	tn.k, tn.g = k, &fakeGossip{net: net, name: name, ring: ring}
	k.Attach(tn.g, tn.wg)
	net.mu.Lock()
	net.sides[tn.addr] = k.AnswerKeyRequest
	net.mu.Unlock()
	tn.publish()
	return tn
}

// publish puts the node's metadata in the member list, as the node does.
func (tn *testNode) publish() {
	ap := netip.MustParseAddrPort(tn.addr)
	meta, err := tables.Meta{VXLAN: netip.AddrPortFrom(ap.Addr(), 4789), WG: netip.AddrPortFrom(ap.Addr(), 51820),
		Key: tn.k.Public(), Epoch: tn.k.Epoch(), Token: tn.k.TokenIssued()}.Encode()
	if err != nil {
		panic(err)
	}
	n := tn.g.net
	n.mu.Lock()
	n.members[tn.g.name] = gossip.Member{Name: tn.g.name, Addr: ap, State: gossip.StateAlive, Meta: meta}
	n.mu.Unlock()
}

func newKey(t *testing.T) keydist.NodePrivate {
	t.Helper()
	k, err := keydist.NewNodePrivate(crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// containsKey reports whether metadata names pub.
func containsKey(meta []byte, pub keydist.NodePublic) bool {
	m, err := tables.DecodeMeta(meta)
	return err == nil && m.Key == pub
}
