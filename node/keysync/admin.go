package keysync

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/keydist"
	"meshnet.dev/meshnet/node/tables"
)

// ErrNotAdmin is returned by admin operations on a node without the admin
// key.
var ErrNotAdmin = errors.New("this node holds no admin key; run the command on an admin node (the one that started the cluster with `meshnet init` or the first `meshnet up`)")

// maxTokenTTL bounds join tokens: a token carries the gossip keys, and is
// useless once the cluster has rotated twice anyway.
const maxTokenTTL = 7 * 24 * time.Hour

// IssueToken (admin) returns a join token valid for ttl that names
// bootstrap as the addresses to join through.
func (k *Keys) IssueToken(bootstrap []netip.AddrPort, ttl time.Duration) (string, keydist.Token, error) {
	if k.issuer == nil {
		return "", keydist.Token{}, ErrNotAdmin
	}
	if ttl <= 0 || ttl > maxTokenTTL {
		return "", keydist.Token{}, fmt.Errorf("token validity %s: use between 1s and %s", ttl, maxTokenTTL)
	}
	text, tok, err := k.issuer.IssueToken(bootstrap, ttl)
	if err != nil {
		return "", keydist.Token{}, err
	}
	k.log.Info("issued a join token", "expires", tok.Expiry) // never the token itself
	return text, tok, nil
}

// RotateNow (admin) rotates the cluster keys now.
func (k *Keys) RotateNow() error {
	if !k.trigger(keydist.ReasonOnDemand) {
		return ErrNotAdmin
	}
	return nil
}

// Evict (admin) removes a node, by member name or public key, from the
// cluster for good: a signed eviction record makes every node drop it at
// once, and an emergency rotation follows that is not sealed to it.
func (k *Keys) Evict(name string) error {
	if k.issuer == nil {
		return ErrNotAdmin
	}
	if name == k.cfg.Name {
		return errors.New("a node cannot evict itself; run the command on another admin node")
	}
	var pub keydist.NodePublic
	for _, m := range k.gossip().Members() {
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
	rec, err := k.issuer.Evict(pub, name)
	if err != nil {
		return err
	}
	if err := k.gossip().Put(gossip.ClusterScope, tables.Evictions, pub.String(), rec.Encode()); err != nil {
		return fmt.Errorf("publishing the eviction: %w", err)
	}
	k.log.Warn("evicting node", "node", name, "key", pub)
	// Applying it drops the peer and triggers the one emergency rotation
	// (dropEvicted); triggering here too rotated twice.
	k.applyEvictions()
	k.cfg.Poke()
	return nil
}
