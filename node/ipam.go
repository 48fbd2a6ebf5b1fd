package node

import (
	"math/rand/v2"
	"net/netip"
	"time"

	"meshnet.dev/meshnet/routing"

	"meshnet.dev/meshnet/node/tables"
)

// ipamState is this node's address claim on one network.
type ipamState struct {
	block   netip.Prefix // claimed block, if any
	since   time.Time    // when it was claimed
	settled bool         // held long enough to be used
}

// settleRounds is how many gossip intervals a claim must stand before the
// node uses it: long enough for a concurrent claim of the same block to
// arrive and be settled by claim order.
const settleRounds = 5

// settleAddress makes sure the node has its address on the network: the
// static one, or the first address of a block it has claimed and held.
// Losing a block (a concurrent claim that came first, or one seen only when
// a partition heals) means picking another.
func (n *Node) settleAddress(a *attachment, used []netip.Addr, dups []tables.Duplicate) {
	if a.static.IsValid() {
		for _, d := range dups {
			if d.IP == a.static.String() && d.Winner != n.spec.Name {
				n.log.Error("duplicate address: our static address is also claimed by another node, which claimed it first",
					"network", a.def.Name, "address", a.static, "other", d.Winner)
			}
		}
		n.useAddress(a, a.static)
		return
	}
	name := a.def.Name
	won := routing.ResolveClaims(tables.Claims(a.def.Subnet, n.catalog.Rows(name, tables.IPAM)))
	if a.ipam.block.IsValid() {
		if w, ok := won[a.ipam.block]; ok && w.Owner != n.spec.Name {
			n.log.Warn("address block claimed first by another node; picking another",
				"network", name, "block", a.ipam.block, "winner", w.Owner)
			n.db.Delete(name, tables.IPAM, a.ipam.block.String())
			a.ipam = ipamState{}
		}
	}
	if !a.ipam.block.IsValid() {
		b, ok := n.reclaimBlock(a, won, used)
		if !ok {
			b, ok = routing.FreeBlock(a.def.Subnet, won, used, rand.Uint64())
		}
		if !ok {
			n.log.Error("no free address block left in the network's subnet", "network", name, "subnet", a.def.Subnet)
			return
		}
		if err := n.db.Put(name, tables.IPAM, b.String(), nil); err != nil {
			n.log.Warn("claiming address block", "network", name, "err", err)
			return
		}
		a.ipam = ipamState{block: b, since: time.Now()}
		n.log.Debug("claimed address block", "network", name, "block", b)
		return
	}
	if !a.ipam.settled && time.Since(a.ipam.since) >= settleRounds*n.spec.Gossip.Interval {
		a.ipam.settled = true
	}
	if a.ipam.settled {
		n.useAddress(a, routing.BlockAddress(a.ipam.block))
	}
}

// reclaimBlock offers the block this node held on the network before a
// restart, if nobody has claimed it since, so the node keeps its address.
func (n *Node) reclaimBlock(a *attachment, won map[netip.Prefix]routing.Claim, used []netip.Addr) (netip.Prefix, bool) {
	b, ok := n.rec.prevBlocks[a.def.Name]
	delete(n.rec.prevBlocks, a.def.Name)
	mine := n.containerAddrs(a.def.Name)
	others := make([]netip.Addr, 0, len(used))
	for _, u := range used {
		if !mine[u] {
			others = append(others, u)
		}
	}
	return b, ok && tables.Reclaimable(b, a.def.Subnet, n.spec.Name, won, others)
}

// useAddress assigns addr to the network's device and publishes it as this
// node's endpoint, withdrawing the previous one.
func (n *Node) useAddress(a *attachment, addr netip.Addr) {
	old := a.addr
	if old == addr {
		return
	}
	if err := n.setAddress(a, addr); err != nil {
		n.log.Error("assigning address", "network", a.def.Name, "err", err)
		return
	}
	n.publish()
	if old.IsValid() {
		n.db.Delete(a.def.Name, tables.Endpoints, tables.EndpointKey(a.mac, old))
	}
	if err := n.db.Put(a.def.Name, tables.Endpoints, tables.EndpointKey(a.mac, addr), nil); err != nil {
		n.log.Warn("publishing our endpoint", "network", a.def.Name, "err", err)
	}
	n.poke()
}
