package wire

import "time"

// TableEvent is one entry's state as it travels: a value, or a tombstone
// with its remaining lifetime.
//
//	table string | key string | owner string | ltime uvarint |
//	flags byte (bit 0: deleted) | deleted ? ttl-ms uvarint : value bytes
type TableEvent struct {
	Table   string
	Key     string
	Owner   string
	LTime   uint64
	Deleted bool
	TTL     time.Duration // remaining tombstone lifetime
	Value   []byte
}

const flagDeleted = 1 << 0

// Append appends the encoded event to b.
func (e *TableEvent) Append(b []byte) []byte {
	b = appendString(b, e.Table)
	b = appendString(b, e.Key)
	b = appendString(b, e.Owner)
	b = appendUvarint(b, e.LTime)
	b = appendFlag(b, flagDeleted, e.Deleted)
	if e.Deleted {
		return appendTTL(b, e.TTL)
	}
	return appendBytes(b, e.Value)
}

func (r *reader) tableEvent() TableEvent {
	var e TableEvent
	e.Table = r.name(MaxTableNameLen)
	e.Key = r.name(MaxKeyLen)
	e.Owner = r.name(MaxNodeNameLen)
	e.LTime = r.uvarint()
	if r.flags(flagDeleted)&flagDeleted != 0 {
		e.Deleted = true
		e.TTL = r.ttl()
	} else {
		e.Value = r.bytes(MaxValueLen)
	}
	return e
}

// TableEvents carries gossiped events of one network.
//
//	sender string | network string | count uvarint | count x TableEvent
type TableEvents struct {
	Sender  string
	Network string
	Events  []TableEvent
}

// AppendHead appends the message up to and including an event count, for
// a packer that appends count events itself.
func (m TableEvents) AppendHead(b []byte, count int) []byte {
	b = appendHeader(b, TypeTableEvents)
	b = appendString(b, m.Sender)
	b = appendString(b, m.Network)
	return appendCount(b, count)
}

// Append appends the encoded message to b.
func (m TableEvents) Append(b []byte) []byte {
	return appendItems(b, m.AppendHead, m.Events, (*TableEvent).Append)
}

// DecodeTableEvents decodes a whole TypeTableEvents message.
func DecodeTableEvents(buf []byte) (TableEvents, error) {
	return decode(buf, TypeTableEvents, func(r *reader, m *TableEvents) {
		m.Sender = r.name(MaxNodeNameLen)
		m.Network = r.string(MaxNetworkIDLen)
		m.Events = readList(r, MaxEventsPerMessage, minTableEventSize, (*reader).tableEvent)
	})
}
