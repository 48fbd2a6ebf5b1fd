package wire

// BulkSync is one chunk of a network's full state: the membership records
// of that network (presence records, for the cluster scope) and its
// entries, tombstones included. Each chunk merges on its own; the last
// chunk of a sync asks the receiver to answer with its own state.
//
//	sender string | network string | flags byte (bit 0: respond) |
//	records uvarint | records x NetRecord | entries uvarint | entries x TableEvent
type BulkSync struct {
	Sender  string
	Network string
	Respond bool
	Records []NetRecord
	Entries []TableEvent
}

const flagRespond = 1 << 0

// Append appends the encoded message to b.
func (m BulkSync) Append(b []byte) []byte {
	b = appendHeader(b, TypeBulkSync)
	b = appendString(b, m.Sender)
	b = appendString(b, m.Network)
	b = appendFlag(b, flagRespond, m.Respond)
	b = appendItems(b, appendCount, m.Records, (*NetRecord).Append)
	return appendItems(b, appendCount, m.Entries, (*TableEvent).Append)
}

// DecodeBulkSync decodes a whole TypeBulkSync message.
func DecodeBulkSync(buf []byte) (BulkSync, error) {
	return decode(buf, TypeBulkSync, func(r *reader, m *BulkSync) {
		m.Sender = r.name(MaxNodeNameLen)
		m.Network = r.string(MaxNetworkIDLen)
		m.Respond = r.flags(flagRespond)&flagRespond != 0
		m.Records = readList(r, MaxRecordsPerMessage, minNetRecordSize, (*reader).netRecord)
		m.Entries = readList(r, MaxEventsPerMessage, minTableEventSize, (*reader).tableEvent)
	})
}
