package node

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"net/netip"
	"os"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/keydist"
	"meshnet.dev/meshnet/routing"

	"meshnet.dev/meshnet/node/tables"
)

// openSecure opens the WireGuard transport; in-process tests that give a
// plain transport and no secure one run without it.
func (n *Node) openSecure(context.Context) (func(), error) {
	if n.opts.Plain != nil && n.opts.Secure == nil {
		return nil, nil
	}
	if n.opts.Secure != nil {
		n.secure = n.opts.Secure
		return func() { n.secure.Close() }, nil
	}
	mtu := n.underlayMTU() - 60
	if n.underlay.Addr().Is6() {
		mtu = n.underlayMTU() - 80
	}
	mtu = min(mtu, encap.WireGuardMaxMTU) // loopback underlays report 64 KiB
	cfg := n.spec.Perf.WireGuardConfig(encap.WireGuardConfig{
		Port:          n.spec.WGPort,
		PrivateKey:    n.keys.Private(),
		VTEP:          n.keys.VTEP(),
		InterfaceName: n.spec.WGIface,
		MTU:           mtu,
		Logger:        n.log,
		// Gossip listens on the underlay's family alone too (startGossip).
		IPv4Only: n.underlay.Addr().Is4(),
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
		return nil, err
	}
	n.secure = wg
	return func() { n.secure.Close() }, nil
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
	m := tables.Meta{VXLAN: n.underlay, Key: n.keys.Public(), Epoch: n.keys.Epoch(), Token: n.keys.TokenIssued(), Boot: n.boot}
	if n.secure != nil {
		m.WG = netip.AddrPortFrom(n.underlay.Addr(), n.secure.LocalPort())
	}
	return m.Encode()
}

// dropPeer removes an evicted node from the forwarding table at once,
// before the next reconcile pass.
func (n *Node) dropPeer(pub keydist.NodePublic) {
	vtep := keydist.VTEP(pub)
	for _, p := range n.table.Snapshot().Peers() {
		if p.VTEP.Addr() == vtep {
			n.table.Update(func(tx *routing.Tx) { tx.RemovePeer(p.Name) })
		}
	}
}
