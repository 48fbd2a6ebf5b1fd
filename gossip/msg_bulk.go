package gossip

// bulkSyncMsg is one chunk of a network's full state: the membership
// records of that network (presence records, for ClusterScope) and its
// entries, tombstones included. Each chunk merges on its own; the last
// chunk of a sync asks the receiver to answer with its own state.
//
//	sender string | network string | flags byte (bit 0: respond) |
//	records uvarint | records x netRecord | entries uvarint | entries x tableEvent
type bulkSyncMsg struct {
	Sender  string
	Network string
	Respond bool
	Records []netRecord
	Entries []tableEvent
}

const flagRespond = 1 << 0

func (m bulkSyncMsg) encode() []byte {
	b := appendHeader(nil, msgBulkSync)
	b = appendString(b, m.Sender)
	b = appendString(b, m.Network)
	var flags byte
	if m.Respond {
		flags |= flagRespond
	}
	b = append(b, flags)
	b = appendUvarint(b, uint64(len(m.Records)))
	for i := range m.Records {
		b = appendNetRecord(b, &m.Records[i])
	}
	b = appendUvarint(b, uint64(len(m.Entries)))
	for i := range m.Entries {
		b = appendTableEvent(b, &m.Entries[i])
	}
	return b
}

// decodeBulkSync decodes a whole msgBulkSync message.
func decodeBulkSync(buf []byte) (bulkSyncMsg, error) {
	var m bulkSyncMsg
	t, body, err := splitHeader(buf)
	if err != nil {
		return m, err
	}
	if t != msgBulkSync {
		return m, errType
	}
	r := reader{buf: body}
	m.Sender = r.name(MaxNodeNameLen)
	m.Network = r.string(MaxNetworkIDLen)
	switch flags := r.byte(); {
	case flags&^flagRespond != 0:
		r.fail(errReserved)
	default:
		m.Respond = flags&flagRespond != 0
	}
	n := r.count(MaxRecordsPerMessage, minNetRecordSize)
	if n > 0 {
		m.Records = make([]netRecord, 0, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		m.Records = append(m.Records, r.netRecord())
	}
	n = r.count(MaxEventsPerMessage, minTableEventSize)
	if n > 0 {
		m.Entries = make([]tableEvent, 0, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		m.Entries = append(m.Entries, r.tableEvent())
	}
	return m, r.finish()
}
