package node

import (
	"errors"
	"fmt"
	"time"

	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/keydist"
	"meshnet.dev/meshnet/node/api"

	"meshnet.dev/meshnet/node/tables"
)

// errNotAdmin is returned by admin operations on a node without the admin
// key.
var errNotAdmin = errors.New("this node holds no admin key; run the command on an admin node (the one that started the cluster with `meshnet init` or the first `meshnet up`)")

// maxTokenTTL bounds join tokens: a token carries the gossip keys, and is
// useless once the cluster has rotated twice anyway.
const maxTokenTTL = 7 * 24 * time.Hour

// IssueToken returns a join token valid for ttl.
func (n *Node) IssueToken(ttl time.Duration) (api.Token, error) {
	if n.keys.issuer == nil {
		return api.Token{}, errNotAdmin
	}
	if ttl <= 0 || ttl > maxTokenTTL {
		return api.Token{}, fmt.Errorf("token validity %s: use between 1s and %s", ttl, maxTokenTTL)
	}
	text, tok, err := n.keys.issuer.IssueToken(n.tokenBootstrap(), ttl)
	if err != nil {
		return api.Token{}, err
	}
	n.log.Info("issued a join token", "expires", tok.Expiry) // never the token itself
	return api.Token{Token: text, Expires: tok.Expiry, Cluster: tok.ClusterID.String()}, nil
}

// RotateKeys rotates the cluster keys now (admin), or this node's own
// identity key.
func (n *Node) RotateKeys(nodeKey bool) error {
	if nodeKey {
		return n.rotateNodeKey()
	}
	rot := n.rotator.Load()
	if rot == nil {
		return errNotAdmin
	}
	rot.Trigger(keydist.ReasonOnDemand)
	return nil
}

// Evict removes a node from the cluster for good: a signed eviction record
// makes every node drop it at once, and an emergency rotation follows that
// is not sealed to it.
func (n *Node) Evict(name string) error {
	if n.keys.issuer == nil {
		return errNotAdmin
	}
	if name == n.spec.Name {
		return errors.New("a node cannot evict itself; run the command on another admin node")
	}
	var pub keydist.NodePublic
	for _, m := range n.db.Members() {
		if m.Name != name {
			continue
		}
		if meta, err := tables.DecodeMeta(m.Meta); err == nil {
			pub = meta.Key
		}
	}
	if pub.IsZero() {
		p, err := keydist.ParseNodePublic(name)
		if err != nil {
			return fmt.Errorf("no member called %q (and it is not a node public key either); see `meshnet peers`", name)
		}
		pub = p
	}
	rec, err := n.keys.issuer.Evict(pub, name)
	if err != nil {
		return err
	}
	if err := n.db.Put(gossip.ClusterScope, tables.Evictions, pub.String(), rec.Encode()); err != nil {
		return fmt.Errorf("publishing the eviction: %w", err)
	}
	n.log.Warn("evicting node", "node", name, "key", pub)
	// Applying it drops the peer and triggers the one emergency rotation
	// (dropEvicted); triggering here too rotated twice.
	n.applyEvictions()
	n.poke()
	return nil
}

// rotateNodeKey replaces this node's identity key: WireGuard switches to
// it, the new public key goes out in the node's metadata so peers update
// their configuration, and the admin seals the cluster keys to it.
func (n *Node) rotateNodeKey() error {
	key, err := keydist.ReplaceNodeKey(n.spec.StateDir)
	if err != nil {
		return err
	}
	m, err := keydist.OpenMember(n.spec.StateDir, key)
	if err != nil {
		return err
	}
	old := n.keys.pub
	n.keys.node, n.keys.pub, n.keys.member = key, key.Public(), m
	if n.secure != nil {
		if err := n.secure.SetPrivateKey(key, n.vtep()); err != nil {
			return fmt.Errorf("switching WireGuard to the new key: %w", err)
		}
	}
	n.publishMeta()
	n.log.Info("node identity key rotated", "old", old, "new", n.keys.pub)
	n.poke()
	return nil
}
