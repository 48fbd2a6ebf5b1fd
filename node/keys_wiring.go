package node

import (
	"net/netip"
	"time"

	"meshnet.dev/meshnet/node/api"
	"meshnet.dev/meshnet/node/keysync"
)

// loadKeys opens the node's identity and cluster membership (keysync.Load)
// and adds the join token's bootstrap addresses to the seeds.
func (n *Node) loadKeys() error {
	k, boot, err := keysync.Load(keysync.Config{StateDir: n.spec.StateDir, Name: n.spec.Name, Token: n.spec.Token,
		Rotation: n.spec.Rotation, Logger: n.log, PublishMeta: n.publishMeta, Poke: n.poke, DropPeer: n.dropPeer,
		Joined: n.hasJoined, BehindNAT: n.behindNAT}, n.join)
	if err != nil {
		return err
	}
	for _, b := range boot {
		n.join = appendUnique(n.join, b)
	}
	n.keys = k
	return nil
}

// behindNAT reports whether members see this node through a NAT.
func (n *Node) behindNAT() bool {
	return n.localUnderlay.IsValid() || (n.db != nil && n.db.NAT().BehindNAT)
}

// hasJoined reports whether the node has joined its cluster (or started
// one) since it started.
func (n *Node) hasJoined() bool { return n.joinedAt.Load() != nil }

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

// IssueToken returns a join token valid for ttl (admin nodes only).
func (n *Node) IssueToken(ttl time.Duration) (api.Token, error) {
	text, tok, err := n.keys.IssueToken(n.tokenBootstrap(), ttl)
	if err != nil {
		return api.Token{}, adminErr(err)
	}
	return api.Token{Token: text, Expires: tok.Expiry, Cluster: tok.ClusterID.String()}, nil
}

// RotateKeys rotates the cluster keys now (admin), or this node's own
// identity key.
func (n *Node) RotateKeys(nodeKey bool) error {
	if nodeKey {
		return n.keys.RotateNodeKey()
	}
	return adminErr(n.keys.RotateNow())
}

// Evict removes a node from the cluster for good (admin).
func (n *Node) Evict(name string) error { return adminErr(n.keys.Evict(name)) }
