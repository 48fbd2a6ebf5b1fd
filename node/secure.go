package node

import (
	"crypto/rand"
	"encoding/binary"
	"net/netip"
	"os"
	"time"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/keydist"
	"meshnet.dev/meshnet/routing"

	"meshnet.dev/meshnet/node/tables"
)

// wgKeepalive keeps NAT and stateful-firewall mappings open between peers
// that are idle, as WireGuard users customarily do.
const wgKeepalive = 25 * time.Second

// vtep is this node's address inside the encrypted transport.
func (n *Node) vtep() netip.Addr { return keydist.VTEP(n.keys.pub) }

// openSecure starts the WireGuard transport.
func (n *Node) openSecure() error {
	if n.opts.Secure != nil {
		n.secure = n.opts.Secure
		return nil
	}
	mtu := n.underlayMTU() - 60
	if n.underlay.Addr().Is6() {
		mtu = n.underlayMTU() - 80
	}
	mtu = min(mtu, encap.WireGuardMaxMTU) // loopback underlays report 64 KiB
	cfg := n.spec.Perf.WireGuardConfig(encap.WireGuardConfig{
		Port:          n.spec.WGPort,
		PrivateKey:    n.keys.node,
		VTEP:          n.vtep(),
		InterfaceName: n.spec.WGIface,
		MTU:           mtu,
		Logger:        n.log,
	})
	wg, err := encap.NewWireGuard(cfg)
	if err != nil && os.Geteuid() != 0 {
		// An unprivileged node may not write /var/run/wireguard (systemd's
		// RuntimeDirectory=wireguard grants it); run without `wg show`.
		n.log.Warn("no WireGuard control socket (wg show will not list this node)", "err", err)
		cfg.InterfaceName = ""
		wg, err = encap.NewWireGuard(cfg)
	}
	if err != nil {
		return err
	}
	n.secure = wg
	return nil
}

// bootID returns a random non-zero identifier for this start of the
// daemon.
func bootID() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:]) | 1
}

// publishMeta tells the cluster how to reach this node, its public key and
// its key epoch.
func (n *Node) publishMeta() {
	meta, err := n.meta()
	if err == nil {
		err = n.db.SetMeta(meta)
	}
	if err != nil {
		n.log.Error("publishing node metadata", "err", err)
	}
}

func (n *Node) meta() ([]byte, error) {
	m := tables.Meta{VXLAN: n.underlay, Key: n.keys.pub, Epoch: n.keys.epoch(), Token: n.keys.tokenIssued, Boot: n.boot}
	if n.secure != nil {
		m.WG = netip.AddrPortFrom(n.underlay.Addr(), n.secure.LocalPort())
	}
	return m.Encode()
}

// syncSecurePeers configures WireGuard with every live, non-evicted member:
// its key, endpoint, VTEP and the pair's preshared key for the older key
// epoch of the two. Unchanged peers keep their sessions.
func (n *Node) syncSecurePeers(members []gossip.Member) {
	if n.secure == nil {
		return
	}
	var peers []encap.WGPeer
	paired := map[string]bool{}
	defer func() {
		n.mu.Lock()
		n.paired = paired
		n.mu.Unlock()
	}()
	for _, m := range members {
		if m.Name == n.spec.Name || (m.State != gossip.StateAlive && m.State != gossip.StateSuspect) {
			continue
		}
		meta, err := tables.DecodeMeta(m.Meta)
		if err != nil || meta.Key.IsZero() || !meta.WG.IsValid() || n.keys.member.IsEvicted(meta.Key) {
			continue
		}
		// A pair talks only once both ends hold a common keyed epoch: the
		// admin's grant is what admits a node to the data path, so a node
		// that was never granted keys (or was evicted) gets no session.
		psk, _ := n.keys.member.PairPSK(meta.Key, meta.Epoch)
		if psk.IsZero() {
			continue
		}
		p := encap.WGPeer{PublicKey: meta.Key.Raw32(), PSK: psk, Endpoint: meta.WG, VTEP: keydist.VTEP(meta.Key), Generation: meta.Boot}
		// One end of each pair keeps it alive: two ends that start
		// keepalives at the same moment send crossing handshakes, which
		// WireGuard only sorts out on its five-second retry.
		if n.keys.pub.Compare(meta.Key) < 0 {
			p.Keepalive = wgKeepalive
		}
		peers = append(peers, p)
		paired[m.Name] = true
	}
	if err := n.secure.SetPeers(peers); err != nil {
		n.log.Error("configuring encrypted peers", "err", err)
	}
}

// dropEvicted removes an evicted node from WireGuard and the forwarding
// table at once, before the next reconcile pass.
func (n *Node) dropEvicted(pub keydist.NodePublic) {
	if n.secure != nil {
		if err := n.secure.RemovePeer(pub.Raw32()); err != nil {
			n.log.Warn("removing evicted peer", "err", err)
		}
	}
	vtep := keydist.VTEP(pub)
	for _, p := range n.table.Snapshot().Peers() {
		if p.VTEP.Addr() == vtep {
			n.table.Update(func(tx *routing.Tx) { tx.RemovePeer(p.Name) })
		}
	}
	if rot := n.rotator.Load(); n.keys.issuer != nil && rot != nil {
		rot.Trigger(keydist.ReasonEviction)
	}
}
