// Package gossipfake is an in-memory stand-in for the gossip DB, for the
// tests of the packages under node/ that read and write gossip tables
// without running gossip: one Cluster holds the tables, the member list
// and the side-request handlers every node sees; each node reads and
// writes through its own Node, as the owner of what it puts. Writes are
// seen at once by everyone; there is no network and no failure.
package gossipfake

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/memberlist"

	"meshnet.dev/meshnet/gossip"
)

// Cluster is the gossip state all nodes of a test share.
type Cluster struct {
	mu      sync.Mutex
	rows    map[[2]string][]gossip.Entry // scope, table → entries
	members map[string]gossip.Member
	sides   map[string]func([]byte) []byte // gossip address → side-request handler
	ltime   uint64
}

// NewCluster returns an empty cluster.
func NewCluster() *Cluster {
	return &Cluster{rows: map[[2]string][]gossip.Entry{}, members: map[string]gossip.Member{}, sides: map[string]func([]byte) []byte{}}
}

// Node returns node name's view of the cluster; ring is its gossip
// keyring (nil if the test needs none).
func (c *Cluster) Node(name string, ring *memberlist.Keyring) *Node {
	return &Node{c: c, name: name, ring: ring}
}

// SetMember adds m to the member list or replaces it.
func (c *Cluster) SetMember(m gossip.Member) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.members[m.Name] = m
}

// Answer makes fn answer side requests sent to addr.
func (c *Cluster) Answer(addr string, fn func([]byte) []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sides[addr] = fn
}

// Node is one node's gossip DB.
type Node struct {
	c    *Cluster
	name string
	ring *memberlist.Keyring
	// Undecryptable is what Stats reports as dropped undecryptable
	// messages; tests raise it to make a node believe it missed keys.
	Undecryptable atomic.Uint64
}

// Put writes key in scope's table as this node's entry, at a new Lamport
// time.
func (n *Node) Put(scope, table, key string, value []byte) error {
	c := n.c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ltime++
	n.removeLocked(scope, table, key)
	k := [2]string{scope, table}
	c.rows[k] = append(c.rows[k], gossip.Entry{Network: scope, Table: table, Key: key, Owner: n.name, Value: value, LTime: c.ltime})
	return nil
}

// Delete removes this node's entry for key.
func (n *Node) Delete(scope, table, key string) error {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	n.removeLocked(scope, table, key)
	return nil
}

func (n *Node) removeLocked(scope, table, key string) {
	k := [2]string{scope, table}
	rows := n.c.rows[k][:0:0]
	for _, e := range n.c.rows[k] {
		if e.Key != key || e.Owner != n.name {
			rows = append(rows, e)
		}
	}
	n.c.rows[k] = rows
}

// Lookup returns every owner's entry for key.
func (n *Node) Lookup(scope, table, key string) []gossip.Entry {
	var out []gossip.Entry
	n.Walk(scope, table, func(e gossip.Entry) bool {
		if e.Key == key {
			out = append(out, e)
		}
		return true
	})
	return out
}

// Walk calls fn for every entry of the table until fn returns false.
func (n *Node) Walk(scope, table string, fn func(gossip.Entry) bool) {
	n.c.mu.Lock()
	rows := append([]gossip.Entry(nil), n.c.rows[[2]string{scope, table}]...)
	n.c.mu.Unlock()
	for _, e := range rows {
		if !fn(e) {
			return
		}
	}
}

// Members returns the member list.
func (n *Node) Members() []gossip.Member {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	out := make([]gossip.Member, 0, len(n.c.members))
	for _, m := range n.c.members {
		out = append(out, m)
	}
	return out
}

// Join reaches every address at once.
func (n *Node) Join(addrs []string) (int, error) { return len(addrs), nil }

// ErrNoNode is SideRequest's answer for an address nobody answers on.
var ErrNoNode = errors.New("gossipfake: no node answers at that address")

// SideRequest asks the handler registered for addr.
func (n *Node) SideRequest(addr string, req []byte) ([]byte, error) {
	n.c.mu.Lock()
	h := n.c.sides[addr]
	n.c.mu.Unlock()
	if h == nil {
		return nil, ErrNoNode
	}
	return h(req), nil
}

// Keyring is the node's gossip keyring.
func (n *Node) Keyring() *memberlist.Keyring { return n.ring }

// Stats reports the undecryptable drops the test set.
func (n *Node) Stats() gossip.Stats {
	return gossip.Stats{Dropped: map[string]uint64{"undecryptable": n.Undecryptable.Load()}}
}
