package gossip

import "time"

// tableEvent is one entry's state as it travels: a value, or a tombstone
// with its remaining lifetime.
//
//	table string | key string | owner string | ltime uvarint |
//	flags byte (bit 0: deleted) | deleted ? ttl-ms uvarint : value bytes
type tableEvent struct {
	Table   string
	Key     string
	Owner   string
	LTime   uint64
	Deleted bool
	TTL     time.Duration // remaining tombstone lifetime
	Value   []byte
}

const (
	flagDeleted = 1 << 0
	// minTableEventSize is the smallest encoded tableEvent, used to bound
	// list lengths by the bytes that are actually there.
	minTableEventSize = 9
)

func appendTableEvent(b []byte, e *tableEvent) []byte {
	b = appendString(b, e.Table)
	b = appendString(b, e.Key)
	b = appendString(b, e.Owner)
	b = appendUvarint(b, e.LTime)
	if e.Deleted {
		b = append(b, flagDeleted)
		return appendTTL(b, e.TTL)
	}
	b = append(b, 0)
	return appendBytes(b, e.Value)
}

func (r *reader) tableEvent() tableEvent {
	var e tableEvent
	e.Table = r.name(MaxTableNameLen)
	e.Key = r.name(MaxKeyLen)
	e.Owner = r.name(MaxNodeNameLen)
	e.LTime = r.uvarint()
	switch flags := r.byte(); {
	case flags&^flagDeleted != 0:
		r.fail(errReserved)
	case flags&flagDeleted != 0:
		e.Deleted = true
		e.TTL = r.ttl()
	default:
		e.Value = r.bytes(MaxValueLen)
	}
	return e
}

// tableEventsMsg carries gossiped events of one network.
//
//	sender string | network string | count uvarint | count x tableEvent
type tableEventsMsg struct {
	Sender  string
	Network string
	Events  []tableEvent
}

func (m tableEventsMsg) appendHead(b []byte, count int) []byte {
	b = appendHeader(b, msgTableEvents)
	b = appendString(b, m.Sender)
	b = appendString(b, m.Network)
	return appendUvarint(b, uint64(count))
}

func (m tableEventsMsg) encode() []byte {
	b := m.appendHead(nil, len(m.Events))
	for i := range m.Events {
		b = appendTableEvent(b, &m.Events[i])
	}
	return b
}

// decodeTableEvents decodes a whole msgTableEvents message, header included.
func decodeTableEvents(buf []byte) (tableEventsMsg, error) {
	var m tableEventsMsg
	t, body, err := splitHeader(buf)
	if err != nil {
		return m, err
	}
	if t != msgTableEvents {
		return m, errType
	}
	r := reader{buf: body}
	m.Sender = r.name(MaxNodeNameLen)
	m.Network = r.string(MaxNetworkIDLen)
	n := r.count(MaxEventsPerMessage, minTableEventSize)
	if n > 0 {
		m.Events = make([]tableEvent, 0, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		m.Events = append(m.Events, r.tableEvent())
	}
	return m, r.finish()
}
