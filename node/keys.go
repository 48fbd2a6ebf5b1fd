package node

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"meshnet.dev/meshnet/keydist"
)

// keys is this node's identity and its view of the cluster's keys.
type keys struct {
	node   keydist.NodePrivate
	pub    keydist.NodePublic
	member *keydist.Member
	issuer *keydist.Issuer // nil unless this node holds the admin key
	// tokenIssued is when the join token this run started with was issued.
	tokenIssued time.Time
}

// InitCluster starts a new cluster in stateDir: a node key, an admin key,
// the first gossip keyring and data epoch, and this node's own membership.
// It refuses a state directory that already belongs to a cluster.
func InitCluster(stateDir string) (keydist.ClusterID, error) {
	if _, err := os.Stat(filepath.Join(stateDir, keydist.ClusterStateFile)); err == nil {
		return keydist.ClusterID{}, fmt.Errorf("%s already belongs to a cluster (%s exists); use another --state-dir or remove it to start over",
			stateDir, keydist.ClusterStateFile)
	}
	node, _, err := keydist.LoadOrCreateNodeKey(stateDir)
	if err != nil {
		return keydist.ClusterID{}, err
	}
	admin, _, err := keydist.LoadOrCreateAdminKey(stateDir)
	if err != nil {
		return keydist.ClusterID{}, err
	}
	is, err := keydist.CreateCluster(keydist.IssuerConfig{StateDir: stateDir, Key: admin})
	if err != nil {
		return keydist.ClusterID{}, err
	}
	// The admin node is a member like any other: it joins with a token of
	// its own and opens its own grant.
	text, _, err := is.IssueToken(nil, time.Minute)
	if err != nil {
		return keydist.ClusterID{}, err
	}
	tok, err := keydist.ParseToken(text, time.Now())
	if err != nil {
		return keydist.ClusterID{}, err
	}
	m, err := keydist.JoinMember(stateDir, node, tok)
	if err != nil {
		return keydist.ClusterID{}, err
	}
	rec, err := is.Reseal([]keydist.NodePublic{node.Public()})
	if err != nil {
		return keydist.ClusterID{}, err
	}
	if _, err := m.ApplyKeyRecord(rec); err != nil {
		return keydist.ClusterID{}, err
	}
	return is.State().ClusterID, nil
}

// loadKeys opens the node's identity and cluster membership: from the state
// directory, from a join token, or — for a node that neither has state nor
// joins anyone — by starting a new cluster.
func (n *Node) loadKeys() error {
	dir := n.spec.StateDir
	if n.spec.Token != "" {
		tok, err := keydist.ParseToken(n.spec.Token, time.Now())
		if errors.Is(err, keydist.ErrExpired) {
			if ok, err := n.keysDespiteExpiredToken(); ok || err != nil {
				return err
			}
		}
		if err != nil {
			return err
		}
		node, _, err := keydist.LoadOrCreateNodeKey(dir)
		if err != nil {
			return err
		}
		m, err := keydist.JoinMember(dir, node, tok)
		if err != nil {
			return err
		}
		for _, b := range tok.Bootstrap {
			n.spec.Join = appendUnique(n.spec.Join, b.String())
		}
		n.keys = &keys{node: node, pub: node.Public(), member: m, tokenIssued: tok.IssuedAt}
		n.log.Info("joining cluster with a token", "cluster", tok.ClusterID, "expires", tok.Expiry)
		return n.openIssuer()
	}
	node, _, err := keydist.LoadOrCreateNodeKey(dir)
	if err != nil {
		return err
	}
	m, err := keydist.OpenMember(dir, node)
	if errors.Is(err, fs.ErrNotExist) {
		if len(n.spec.Join) > 0 {
			return fmt.Errorf("this node has no cluster keys yet, and joining a cluster needs a join token: run `meshnet token` on an admin node and start this one with --token TOKEN (or set token_file)")
		}
		id, err := InitCluster(dir)
		if err != nil {
			return err
		}
		n.log.Info("started a new cluster; this node holds its admin key (get join tokens with `meshnet token`)", "cluster", id)
		if m, err = keydist.OpenMember(dir, node); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	n.keys = &keys{node: node, pub: node.Public(), member: m}
	return n.openIssuer()
}

// keysDespiteExpiredToken opens the node's existing membership when the
// join token it was started with has expired: a config file or token_file
// keeps the token a node joined with, and a member that has its keys in the
// state directory does not need it to start again. It reports false when
// the state directory holds no membership of the token's cluster, so the
// expiry error stands.
func (n *Node) keysDespiteExpiredToken() (bool, error) {
	dir := n.spec.StateDir
	// The zero time skips only the expiry check: the signature still
	// proves which cluster and admin key the token names.
	tok, err := keydist.ParseToken(n.spec.Token, time.Time{})
	if err != nil {
		return false, nil
	}
	if _, err := os.Stat(filepath.Join(dir, keydist.ClusterStateFile)); err != nil {
		return false, nil
	}
	node, _, err := keydist.LoadOrCreateNodeKey(dir)
	if err != nil {
		return false, err
	}
	m, err := keydist.OpenMember(dir, node)
	if err != nil {
		return false, err
	}
	st := m.State()
	if st.ClusterID != tok.ClusterID || !st.Admin.Equal(tok.AdminPub) {
		return false, nil
	}
	n.log.Warn("the join token in the configuration has expired; this node is already a member, so it starts from its state directory (remove the token from the configuration)",
		"cluster", st.ClusterID, "expired", tok.Expiry)
	for _, b := range tok.Bootstrap {
		n.spec.Join = appendUnique(n.spec.Join, b.String())
	}
	n.keys = &keys{node: node, pub: node.Public(), member: m}
	return true, n.openIssuer()
}

// openIssuer loads the admin role if this state directory holds it.
func (n *Node) openIssuer() error {
	dir := n.spec.StateDir
	if _, err := os.Stat(filepath.Join(dir, keydist.IssuerStateFile)); err != nil {
		return nil
	}
	admin, err := keydist.LoadAdminKey(dir)
	if err != nil {
		return err
	}
	is, err := keydist.OpenIssuer(keydist.IssuerConfig{StateDir: dir, Key: admin})
	if err != nil {
		return err
	}
	n.keys.issuer = is
	return nil
}

// gossipKeys is the memberlist keyring to start with.
func (k *keys) gossipKeys() (keys [][]byte, primary int) {
	p, all := k.member.State().Ring.MemberlistKeys()
	for i, key := range all {
		if string(key) == string(p) {
			primary = i
		}
	}
	return all, primary
}

// epoch is the data epoch this node has applied.
func (k *keys) epoch() uint64 { return k.member.State().Epochs.Current.Number }

// holdsKeys reports whether this node holds cluster data keys, without
// which it can neither send nor receive on an encrypted network.
func (n *Node) holdsKeys() bool { return n.keys.epoch() != 0 }

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// tokenBootstrap is where a joining node reaches this one: its gossip
// address.
func (n *Node) tokenBootstrap() []netip.AddrPort {
	return []netip.AddrPort{netip.AddrPortFrom(n.underlay.Addr(), uint16(n.spec.Gossip.Port))}
}
