package config

import (
	"errors"
	"fmt"
	"net/netip"

	"meshnet.dev/meshnet/keydist"
)

// Cluster is what a running node knows and a config file cannot: the
// cluster's members and how its networks are defined. CheckPeers checks
// static peers against it when the node starts and on every reload.
type Cluster struct {
	// SelfKey is this node's public key.
	SelfKey keydist.NodePublic
	// Members are the other nodes gossip knows, by name, with their
	// public keys (zero when unknown).
	Members map[string]keydist.NodePublic
	// Networks are the networks the cluster defines, by name.
	Networks map[string]ClusterNetwork
}

// ClusterNetwork is a network as the cluster defines it.
type ClusterNetwork struct {
	Subnet    netip.Prefix
	Encrypted bool
}

// CheckPeers reports, as FieldErrors, static peers that clash with the
// running cluster: a peer named like a member, holding this node's or a
// member's public key or VTEP, or with an endpoint outside its network's
// subnet or on a network whose encryption is not the peer's. Networks the
// config only names get their subnet from the cluster, so this is where
// their endpoints are checked. It returns nil when all is well.
func CheckPeers(peers []PeerSpec, c Cluster) error {
	var errs []error
	bad := func(key, val, problem, fix string) { errs = append(errs, &FieldError{key, val, problem, fix}) }
	keyOwner := map[keydist.NodePublic]string{c.SelfKey: "this node"}
	vtepOwner := map[netip.Addr]string{keydist.VTEP(c.SelfKey): "this node"}
	for name, k := range c.Members {
		if !k.IsZero() {
			keyOwner[k], vtepOwner[keydist.VTEP(k)] = "member "+name, "member "+name
		}
	}
	for _, p := range peers {
		key := fmt.Sprintf("peers[%d]", p.Index)
		if _, ok := c.Members[p.Name]; ok {
			bad(key+".name", p.Name, "a cluster member has this name", "give the static peer a name no node uses")
		}
		if p.Encrypted() {
			if who := keyOwner[p.Key]; who != "" {
				bad(key+".public_key", p.Key.String(), "this is the public key of "+who, "use the key `wg pubkey` prints on the peer itself")
			} else if who := vtepOwner[p.VTEP]; who != "" {
				bad(key+".vtep", p.VTEP.String(), "this is the VTEP of "+who, "leave vtep out to derive it from public_key, or pick another address in fd00::/8")
			}
		}
		for j, e := range p.Endpoints {
			n, ok := c.Networks[e.Network]
			if !ok {
				continue // not defined yet: checked when it is
			}
			ek := fmt.Sprintf("%s.endpoints[%d]", key, j)
			switch {
			case n.Encrypted != p.Encrypted():
				bad(ek+".network", e.Network, fmt.Sprintf("the cluster defines this network with encrypted: %v, unlike the peer", n.Encrypted),
					"use public_key for a peer on an encrypted network and address for one on a plain network")
			case !n.Subnet.Contains(e.IP):
				bad(ek+".ip", e.IP.String(), "not inside network "+e.Network+"'s subnet "+n.Subnet.String(), "use an address inside it, for example "+exampleAddr(n.Subnet))
			}
		}
	}
	return errors.Join(errs...)
}
