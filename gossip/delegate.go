package gossip

import (
	"fmt"
	"time"

	"github.com/hashicorp/memberlist"

	"meshnet.dev/meshnet/gossip/wire"
)

// mlDelegate adapts the DB to memberlist's delegate interfaces, keeping
// them off the DB's exported method set. Every method returns quickly and
// copies what it keeps.
type mlDelegate struct{ d *DB }

var (
	_ memberlist.Delegate      = mlDelegate{}
	_ memberlist.EventDelegate = mlDelegate{}
	_ memberlist.PingDelegate  = mlDelegate{}
	_ memberlist.AliveDelegate = mlDelegate{}
)

func (m mlDelegate) NodeMeta(limit int) []byte {
	m.d.mu.Lock()
	defer m.d.mu.Unlock()
	if len(m.d.meta) > limit {
		return nil
	}
	return append([]byte(nil), m.d.meta...)
}

// NotifyMsg gets our messages, from the packet handler or a stream handler;
// the buffer is only ours for the call, and the decoder copies what it keeps.
func (m mlDelegate) NotifyMsg(buf []byte) { m.d.handleMessage(buf) }

// GetBroadcasts returns nothing: our gossip is scoped per network and sent
// by our own fanout, not piggybacked on memberlist's cluster-wide gossip.
func (m mlDelegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }

// LocalState is the whole membership table, for push/pull: it heals missed
// network joins cluster-wide, and gives a node joining the cluster the
// table at once.
func (m mlDelegate) LocalState(join bool) []byte {
	d := m.d
	d.mu.Lock()
	defer d.mu.Unlock()
	msg := wire.NetworkEvents{Sender: d.name, Records: d.records.all(d.now())}
	b := msg.Append(nil)
	d.stats.sent(wire.TypeNetworkEvents, len(b))
	return b
}

func (m mlDelegate) MergeRemoteState(buf []byte, join bool) { m.d.mergePushPull(buf) }

func (m mlDelegate) NotifyJoin(n *memberlist.Node)   { m.d.onMemberJoin(n) }
func (m mlDelegate) NotifyLeave(n *memberlist.Node)  { m.d.onMemberLeave(n) }
func (m mlDelegate) NotifyUpdate(n *memberlist.Node) { m.d.onMemberUpdate(n) }

func (m mlDelegate) AckPayload() []byte { return m.d.viv.payload() }

func (m mlDelegate) NotifyPingComplete(other *memberlist.Node, rtt time.Duration, payload []byte) {
	if err := m.d.viv.observe(other.Name, rtt, payload); err != nil {
		m.d.stats.drop(dropBadCoordinate, 1)
	}
}

// NotifyAlive refuses nodes whose names we could not carry on the wire.
func (m mlDelegate) NotifyAlive(n *memberlist.Node) error {
	if n.Name == "" || len(n.Name) > MaxNodeNameLen {
		return fmt.Errorf("node name of %d bytes: must be 1 to %d", len(n.Name), MaxNodeNameLen)
	}
	if admit := m.d.cfg.Admit; admit != nil && n.Name != m.d.name {
		if err := admit(n.Name, n.Meta); err != nil {
			m.d.stats.drop(dropRefused, 1)
			return err
		}
	}
	return nil
}
