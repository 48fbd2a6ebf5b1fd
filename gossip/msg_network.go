package gossip

import "time"

// netRecord says that Node joined (or left) Network at LTime, on the
// network-membership Lamport clock. A record for ClusterScope is a node's
// presence: its leave form means the node left the cluster gracefully.
//
//	node string | network string | ltime uvarint |
//	flags byte (bit 0: leave) | leave ? ttl-ms uvarint
type netRecord struct {
	Node    string
	Network string
	LTime   uint64
	Leave   bool
	TTL     time.Duration // remaining lifetime of a leave record
}

const (
	flagLeave        = 1 << 0
	minNetRecordSize = 5
)

func appendNetRecord(b []byte, r *netRecord) []byte {
	b = appendString(b, r.Node)
	b = appendString(b, r.Network)
	b = appendUvarint(b, r.LTime)
	if r.Leave {
		b = append(b, flagLeave)
		return appendTTL(b, r.TTL)
	}
	return append(b, 0)
}

func (r *reader) netRecord() netRecord {
	var n netRecord
	n.Node = r.name(MaxNodeNameLen)
	n.Network = r.string(MaxNetworkIDLen)
	n.LTime = r.uvarint()
	switch flags := r.byte(); {
	case flags&^flagLeave != 0:
		r.fail(errReserved)
	case flags&flagLeave != 0:
		n.Leave = true
		n.TTL = r.ttl()
	}
	return n
}

// networkEventsMsg carries membership records: gossiped in the cluster
// scope, and as the whole membership table in memberlist's push/pull.
//
//	sender string | count uvarint | count x netRecord
type networkEventsMsg struct {
	Sender  string
	Records []netRecord
}

func (m networkEventsMsg) appendHead(b []byte, count int) []byte {
	b = appendHeader(b, msgNetworkEvents)
	b = appendString(b, m.Sender)
	return appendUvarint(b, uint64(count))
}

func (m networkEventsMsg) encode() []byte {
	b := m.appendHead(nil, len(m.Records))
	for i := range m.Records {
		b = appendNetRecord(b, &m.Records[i])
	}
	return b
}

// decodeNetworkEvents decodes a whole msgNetworkEvents message.
func decodeNetworkEvents(buf []byte) (networkEventsMsg, error) {
	var m networkEventsMsg
	t, body, err := splitHeader(buf)
	if err != nil {
		return m, err
	}
	if t != msgNetworkEvents {
		return m, errType
	}
	r := reader{buf: body}
	m.Sender = r.name(MaxNodeNameLen)
	n := r.count(MaxRecordsPerMessage, minNetRecordSize)
	if n > 0 {
		m.Records = make([]netRecord, 0, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		m.Records = append(m.Records, r.netRecord())
	}
	return m, r.finish()
}
