package keysync

import (
	crand "crypto/rand"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/keydist"
	"meshnet.dev/meshnet/node/internal/gossipfake"
	"meshnet.dev/meshnet/node/tables"
)

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
	g       *gossipfake.Node
	net     *gossipfake.Cluster
	name    string
	wg      *fakeWG
	addr    string
	mu      sync.Mutex
	dropped []keydist.NodePublic
}

// addNode loads the keys of node name (a new cluster for the first node,
// else joining with a token from admin) and puts it in the member list.
func addNode(t *testing.T, net *gossipfake.Cluster, name string, admin *testNode) *testNode {
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
	tn.k, tn.g, tn.net, tn.name = k, net.Node(name, ring), net, name
	k.Attach(tn.g, tn.wg)
	net.Answer(tn.addr, k.AnswerKeyRequest)
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
	tn.net.SetMember(gossip.Member{Name: tn.name, Addr: ap, State: gossip.StateAlive, Meta: meta})
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
