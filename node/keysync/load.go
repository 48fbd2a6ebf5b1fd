package keysync

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"meshnet.dev/meshnet/keydist"
)

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

// Load opens the node's identity and cluster membership: from the state
// directory, from a join token, or — for a node that neither has state
// nor joins anyone (no seeds) — by starting a new cluster. It returns the
// bootstrap addresses of the token, if any, for the node to join through.
func Load(cfg Config, seeds []string) (*Keys, []string, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	k := &Keys{cfg: cfg, log: cfg.Logger}
	boot, err := k.load(seeds)
	if err != nil {
		return nil, nil, err
	}
	return k, boot, nil
}

func (k *Keys) load(seeds []string) ([]string, error) {
	dir := k.cfg.StateDir
	if k.cfg.Token != "" {
		tok, err := keydist.ParseToken(k.cfg.Token, time.Now())
		if errors.Is(err, keydist.ErrExpired) {
			if boot, ok, err := k.despiteExpiredToken(); ok || err != nil {
				return boot, err
			}
		}
		if err != nil {
			return nil, err
		}
		node, _, err := keydist.LoadOrCreateNodeKey(dir)
		if err != nil {
			return nil, err
		}
		m, err := keydist.JoinMember(dir, node, tok)
		if err != nil {
			return nil, err
		}
		k.setIdentity(node, m)
		k.tokenIssued = tok.IssuedAt
		k.log.Info("joining cluster with a token", "cluster", tok.ClusterID, "expires", tok.Expiry)
		return bootstrap(tok), k.openIssuer()
	}
	node, _, err := keydist.LoadOrCreateNodeKey(dir)
	if err != nil {
		return nil, err
	}
	m, err := keydist.OpenMember(dir, node)
	if errors.Is(err, fs.ErrNotExist) {
		if len(seeds) > 0 {
			return nil, fmt.Errorf("this node has no cluster keys yet, and joining a cluster needs a join token: run `meshnet token` on an admin node and start this one with --token-file FILE, or pipe the token in with --token - (or set token_file)")
		}
		id, err := InitCluster(dir)
		if err != nil {
			return nil, err
		}
		k.log.Info("started a new cluster; this node holds its admin key (get join tokens with `meshnet token`)", "cluster", id)
		if m, err = keydist.OpenMember(dir, node); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	k.setIdentity(node, m)
	return nil, k.openIssuer()
}

// despiteExpiredToken opens the node's existing membership when the join
// token it was started with has expired: a config file or token_file
// keeps the token a node joined with, and a member that has its keys in the
// state directory does not need it to start again. It reports false when
// the state directory holds no membership of the token's cluster, so the
// expiry error stands.
func (k *Keys) despiteExpiredToken() ([]string, bool, error) {
	dir := k.cfg.StateDir
	// The zero time skips only the expiry check: the signature still
	// proves which cluster and admin key the token names.
	tok, err := keydist.ParseToken(k.cfg.Token, time.Time{})
	if err != nil {
		return nil, false, nil
	}
	if _, err := os.Stat(filepath.Join(dir, keydist.ClusterStateFile)); err != nil {
		return nil, false, nil
	}
	node, _, err := keydist.LoadOrCreateNodeKey(dir)
	if err != nil {
		return nil, false, err
	}
	m, err := keydist.OpenMember(dir, node)
	if err != nil {
		return nil, false, err
	}
	st := m.State()
	if st.ClusterID != tok.ClusterID || !st.Admin.Equal(tok.AdminPub) {
		return nil, false, nil
	}
	k.log.Warn("the join token in the configuration has expired; this node is already a member, so it starts from its state directory (remove the token from the configuration)",
		"cluster", st.ClusterID, "expired", tok.Expiry)
	k.setIdentity(node, m)
	return bootstrap(tok), true, k.openIssuer()
}

// bootstrap lists a token's addresses to join through.
func bootstrap(tok keydist.Token) []string {
	var out []string
	for _, b := range tok.Bootstrap {
		out = append(out, b.String())
	}
	return out
}

func (k *Keys) setIdentity(node keydist.NodePrivate, m *keydist.Member) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.node, k.pub, k.member = node, node.Public(), m
}

// openIssuer loads the admin role if this state directory holds it.
func (k *Keys) openIssuer() error {
	dir := k.cfg.StateDir
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
	k.issuer = is
	return nil
}
