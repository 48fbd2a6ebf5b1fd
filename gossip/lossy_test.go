package gossip

import (
	"errors"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/memberlist"

	"meshnet.dev/meshnet/gossip/memnet"
	"meshnet.dev/meshnet/gossip/wire"
)

// Ways for tests to lose what a node would otherwise hear, from outside
// the DB: refusing a node through the Admit hook, and filtering packets on
// the in-memory network.

// refusal makes a node's Admit refuse one other node while set. memberlist
// then ignores that node's alive messages, as it would have if they had
// been lost on the way.
type refusal struct{ node atomic.Pointer[string] }

var errRefusedByTest = errors.New("refused by the test")

func (r *refusal) admit(name string, _ []byte) error {
	if p := r.node.Load(); p != nil && *p == name {
		return errRefusedByTest
	}
	return nil
}

func (r *refusal) refuse(name string) { r.node.Store(&name) }
func (r *refusal) lift()              { r.node.Store(nil) }

// readablePackets keeps memberlist from compressing packets, so that a
// packet filter can read the gossip messages in them.
func readablePackets(cfg *Config) {
	cfg.Tune = func(c *memberlist.Config) {
		fastMemberlist(c)
		c.EnableCompression = false
	}
}

// memberlist's packet framing (net.go), as far as a filter needs it.
const (
	mlUserMsg   = 8  // userMsg: a message of ours follows
	mlHasCrcMsg = 12 // hasCrcMsg: a CRC-32 precedes the message
)

// gossipPayload returns the message of ours an uncompressed, unencrypted
// memberlist packet carries, or nil for memberlist's own messages.
func gossipPayload(packet []byte) []byte {
	if len(packet) >= 5 && packet[0] == mlHasCrcMsg {
		packet = packet[5:]
	}
	if len(packet) > 0 && packet[0] == mlUserMsg {
		return packet[1:]
	}
	return nil
}

// carriesRecord reports whether msg gossips a membership record of node in
// network.
func carriesRecord(msg []byte, node, network string) bool {
	m, err := wire.DecodeNetworkEvents(msg)
	return err == nil && slices.ContainsFunc(m.Records, func(r wire.NetRecord) bool {
		return r.Node == node && r.Network == network
	})
}

// isMembershipDigest reports whether msg is a digest of cluster membership,
// whose mismatch starts a memberlist push/pull.
func isMembershipDigest(msg []byte) bool {
	m, err := wire.DecodeDigest(msg)
	return err == nil && m.Members
}

// fakePeer is a bare memberlist node that records the messages of ours it
// receives, to see what a DB sends a member.
type fakePeer struct {
	ml  *memberlist.Memberlist
	mu  sync.Mutex
	got [][]byte
}

func startFakePeer(t testing.TB, net *memnet.Network, name string) *fakePeer {
	t.Helper()
	p := &fakePeer{}
	cfg := memberlist.DefaultLANConfig()
	cfg.Name = name
	cfg.Transport = net.NewTransport(name)
	cfg.Delegate = p
	cfg.LogOutput = io.Discard
	ml, err := memberlist.Create(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ml.Shutdown() })
	p.ml = ml
	return p
}

// bulkSyncs returns the bulk syncs received so far.
func (p *fakePeer) bulkSyncs() []wire.BulkSync {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []wire.BulkSync
	for _, b := range p.got {
		if m, err := wire.DecodeBulkSync(b); err == nil {
			out = append(out, m)
		}
	}
	return out
}

func (p *fakePeer) NotifyMsg(b []byte) {
	p.mu.Lock()
	p.got = append(p.got, slices.Clone(b))
	p.mu.Unlock()
}

func (p *fakePeer) NodeMeta(int) []byte               { return nil }
func (p *fakePeer) GetBroadcasts(int, int) [][]byte   { return nil }
func (p *fakePeer) LocalState(bool) []byte            { return nil }
func (p *fakePeer) MergeRemoteState(_ []byte, _ bool) {}
