package keydist

import (
	"fmt"
	"path/filepath"
	"slices"
	"time"
)

// State files in the state directory.
const (
	// ClusterStateFile is a member's view of the cluster keys.
	ClusterStateFile = "cluster.state"
	// IssuerStateFile is the admin node's issuing state.
	IssuerStateFile = "issuer.state"

	// MaxEvicted bounds the eviction list.
	MaxEvicted = 10000
)

// ClusterState is the key state a node keeps across restarts (file mode
// 0600; it holds the gossip and data keys).
type ClusterState struct {
	ClusterID ClusterID
	// Admin is the admin key pinned from the join token.
	Admin AdminPublic
	// Seq is the highest key record sequence applied (member) or issued
	// (admin).
	Seq uint64
	// KeysIssuedAt is when the newest key information this node holds was
	// issued: on an admin node the last rotation, on a member the last key
	// record or join token applied.
	KeysIssuedAt time.Time
	Ring         GossipKeyring
	Epochs       Epochs
	// Evicted lists evicted nodes, sorted by key.
	Evicted []Eviction
}

// Eviction is an entry of the eviction list.
type Eviction struct {
	Node     NodePublic
	Name     string
	Seq      uint64
	IssuedAt time.Time
}

// IsEvicted reports whether pub is on the eviction list.
func (st *ClusterState) IsEvicted(pub NodePublic) bool {
	_, ok := st.findEviction(pub)
	return ok
}

func (st *ClusterState) findEviction(pub NodePublic) (int, bool) {
	return slices.BinarySearchFunc(st.Evicted, pub, func(e Eviction, p NodePublic) int { return e.Node.Compare(p) })
}

// clone returns a copy that shares nothing mutable with st.
func (st ClusterState) clone() ClusterState {
	st.Evicted = slices.Clone(st.Evicted)
	return st
}

// withEviction returns a copy of st with e on the eviction list, and whether
// e was new.
func (st ClusterState) withEviction(e Eviction) (ClusterState, bool, error) {
	i, found := st.findEviction(e.Node)
	if found {
		return st, false, nil
	}
	if len(st.Evicted) >= MaxEvicted {
		return st, false, fmt.Errorf("the eviction list is full (%d nodes); create a new cluster", MaxEvicted)
	}
	out := st.clone()
	out.Evicted = slices.Insert(out.Evicted, i, e)
	return out, true, nil
}

// saveState writes st to dir/name atomically.
func saveState(dir, name string, st ClusterState) error {
	return writeFileAtomic(dir, name, st.encode(), true)
}

// loadState reads dir/name; exists is false if there is no such file.
func loadState(dir, name string) (st ClusterState, exists bool, err error) {
	data, exists, err := readPrivateFile(dir, name, maxStateLen)
	if err != nil || !exists {
		return ClusterState{}, exists, err
	}
	st, err = decodeClusterState(data)
	if err != nil {
		path := filepath.Join(dir, name)
		return ClusterState{}, true, fmt.Errorf("%s is damaged (%w); restore it from a backup, or remove it and join again with a new token: %w",
			path, err, ErrKeyFileCorrupt)
	}
	return st, true, nil
}
