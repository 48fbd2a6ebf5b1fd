package keysync

import (
	"time"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/keydist"
	"meshnet.dev/meshnet/node/tables"
)

// wgKeepalive keeps NAT and stateful-firewall mappings open between peers
// that are idle, as WireGuard users customarily do.
const wgKeepalive = 25 * time.Second

// PairPeers configures WireGuard with every live, non-evicted member: its
// key, endpoint, VTEP and the pair's preshared key for the older key epoch
// of the two; and with the encrypted static peers (resolved by
// tables.ResolveStatic), each with its own fixed preshared key or none:
// epochs are for members, which receive them sealed, and a host that does
// not run meshnet never does. Unchanged peers keep their sessions. It
// returns the members and static peers paired, or nil when there is no
// encrypted transport. Called by the reconciler.
func (k *Keys) PairPeers(members []gossip.Member, static []tables.StaticPeer) map[string]bool {
	wg := k.links.Load().wg
	if wg == nil {
		return nil
	}
	_, self, m := k.identity()
	natted := k.cfg.BehindNAT != nil && k.cfg.BehindNAT()
	var peers []encap.WGPeer
	paired := map[string]bool{}
	for _, mem := range members {
		if mem.Name == k.cfg.Name || !tables.Live(mem) {
			continue
		}
		meta, err := tables.DecodeMeta(mem.Meta)
		if err != nil || meta.Key.IsZero() || !meta.WG.IsValid() || m.IsEvicted(meta.Key) {
			continue
		}
		// A pair talks only once both ends hold a common keyed epoch: the
		// admin's grant is what admits a node to the data path, so a node
		// that was never granted keys (or was evicted) gets no session.
		psk, _ := m.PairPSK(meta.Key, meta.Epoch)
		if psk.IsZero() {
			continue
		}
		p := encap.WGPeer{PublicKey: meta.Key.Raw32(), PSK: psk, Endpoint: meta.WG, VTEP: keydist.VTEP(meta.Key), Generation: meta.Boot}
		// One end of each pair keeps it alive: two ends that start
		// keepalives at the same moment send crossing handshakes, which
		// WireGuard only sorts out on its five-second retry. An end
		// behind a NAT always does: only its own packets keep the NAT's
		// mapping open, and only they tell its peers where it went when
		// it moves.
		if self.Compare(meta.Key) < 0 || natted {
			p.Keepalive = wgKeepalive
		}
		peers = append(peers, p)
		paired[mem.Name] = true
	}
	for _, sp := range static {
		if !sp.Encrypted() || m.IsEvicted(sp.Key) {
			continue
		}
		p := encap.WGPeer{PublicKey: sp.Key.Raw32(), Endpoint: sp.WG, VTEP: sp.VTEP}
		if !sp.PSK.IsZero() {
			p.PSK = sp.PSK
		}
		peers = append(peers, p)
		paired[sp.Name] = true
	}
	if err := wg.SetPeers(peers); err != nil {
		k.log.Error("configuring encrypted peers", "err", err)
	}
	return paired
}

// dropEvicted removes an evicted node from WireGuard and the forwarding
// table at once, before the next reconcile pass, and (admin) starts the
// emergency rotation.
func (k *Keys) dropEvicted(pub keydist.NodePublic) {
	if wg := k.links.Load().wg; wg != nil {
		if err := wg.RemovePeer(pub.Raw32()); err != nil {
			k.log.Warn("removing evicted peer", "err", err)
		}
	}
	k.cfg.DropPeer(pub)
	k.trigger(keydist.ReasonEviction)
}
