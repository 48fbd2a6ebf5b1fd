package gossip

import (
	"time"

	"github.com/hashicorp/memberlist"

	"meshnet.dev/meshnet/gossip/wire"
)

// Fanout: every GossipInterval, for every joined network with queued
// events, pick Fanout live members of that network and send each of them
// up to packetsPerTarget packets of the least-sent events. An event is
// dropped from the queue after retransmitLimit sends; receivers that
// learn something new from it queue it in turn (epidemic relay).
// Membership records ride the cluster scope's rounds.

// packetsPerTarget bounds the packets one member gets per round, so a burst
// of writes drains in a few rounds without flooding anyone.
const packetsPerTarget = 4

// outMsg is a message prepared under the lock and sent after it.
type outMsg struct {
	to      string
	typ     wire.Type
	payload []byte
}

// gossipRound prepares one round's messages.
func (d *DB) gossipRound() []outMsg {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	now := d.now()
	d.retryJoinSyncsLocked(now)
	d.repairGapsLocked(now)
	var out []outMsg
	for _, id := range d.sortedNetworkIDsLocked() {
		n := d.networks[id]
		records := id == ClusterScope && d.netQueue.len() > 0
		if n.queue.len() == 0 && !records {
			continue
		}
		peers := d.networkPeersLocked(id)
		limit := retransmitLimit(d.mlConf.RetransmitMult, len(peers)+1)
		for _, to := range selectTargets(peers, d.cfg.Fanout, d.distance(), globalRand{}) {
			out = append(out, d.packEntriesLocked(n, to, limit, now, packetsPerTarget)...)
			if records {
				out = append(out, d.packRecordsLocked(to, limit, now, packetsPerTarget)...)
			}
		}
	}
	return out
}

// distance is the fanout's distance estimate, nil unless topology-aware.
func (d *DB) distance() func(string) (time.Duration, bool) {
	if !d.cfg.TopologyAware {
		return nil
	}
	return d.viv.distance
}

func (d *DB) packEntriesLocked(n *network, to string, limit int, now time.Time, maxPackets int) []outMsg {
	p := packer{head: wire.TableEvents{Sender: d.name, Network: n.id}.AppendHead, max: maxPackets}
	packQueue(&p, &n.queue, to, limit, func(id entryID) []byte {
		if ev, ok := n.travelling(id, now); ok {
			return ev.Append(nil)
		}
		return nil
	})
	return p.finish(to, wire.TypeTableEvents)
}

func (d *DB) packRecordsLocked(to string, limit int, now time.Time, maxPackets int) []outMsg {
	p := packer{head: wire.NetworkEvents{Sender: d.name}.AppendHead, max: maxPackets}
	packQueue(&p, &d.netQueue, to, limit, func(id recordID) []byte {
		if r, ok := d.records.travelling(id, now); ok {
			return r.Append(nil)
		}
		return nil
	})
	return p.finish(to, wire.TypeNetworkEvents)
}

// packQueue adds to p the items of q that member to has not had yet,
// least sent first, until p is full. encode returns an item as it travels
// now, or nil if it is gone or expired, which drops it from q.
func packQueue[K comparable](p *packer, q *eventQueue[K], to string, limit int, encode func(K) []byte) {
	for _, it := range q.ordered() {
		if it.wasSentTo(to) {
			continue
		}
		b := encode(it.id)
		if b == nil {
			q.remove(it.id)
			continue
		}
		if !p.add(b) {
			return
		}
		q.sent(it, to, limit)
	}
}

// packer fills packets of up to packetBudget bytes with encoded items.
type packer struct {
	head  func(b []byte, count int) []byte
	max   int
	body  []byte
	count int
	out   [][]byte
}

// add appends one encoded item, starting a new packet when it doesn't fit;
// it reports false, without adding, once max packets are full.
func (p *packer) add(item []byte) bool {
	// +4 leaves room for the count's varint to grow.
	if p.count > 0 && len(p.head(nil, 0))+4+len(p.body)+len(item) > packetBudget {
		p.seal()
	}
	if len(p.out) >= p.max {
		return false
	}
	p.body = append(p.body, item...)
	p.count++
	return true
}

func (p *packer) seal() {
	if p.count == 0 {
		return
	}
	p.out = append(p.out, append(p.head(nil, p.count), p.body...))
	p.body, p.count = nil, 0
}

func (p *packer) finish(to string, t wire.Type) []outMsg {
	p.seal()
	out := make([]outMsg, len(p.out))
	for i, b := range p.out {
		out[i] = outMsg{to: to, typ: t, payload: b}
	}
	return out
}

// sendAll sends prepared messages, best effort. It must be called
// without holding d.mu.
func (d *DB) sendAll(msgs []outMsg) {
	if len(msgs) == 0 {
		return
	}
	nodes := make(map[string]*memberlist.Node)
	d.mu.Lock()
	for _, m := range msgs {
		if _, ok := nodes[m.to]; !ok {
			nodes[m.to] = d.mlNodeLocked(m.to)
		}
	}
	d.mu.Unlock()
	for _, m := range msgs {
		node := nodes[m.to]
		if node == nil {
			continue
		}
		if err := d.ml.SendBestEffort(node, m.payload); err != nil {
			d.log.Debug("send failed", "to", m.to, "type", m.typ.String(), "err", err)
			continue
		}
		d.stats.sent(m.typ, len(m.payload))
	}
}
