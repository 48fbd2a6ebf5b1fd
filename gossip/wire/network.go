package wire

import "time"

// NetRecord says that Node joined (or left) Network at LTime, on the
// network-membership Lamport clock. A record for the cluster scope (the
// empty network id) is a node's presence: its leave form means the node
// left the cluster gracefully.
//
//	node string | network string | ltime uvarint |
//	flags byte (bit 0: leave) | leave ? ttl-ms uvarint
type NetRecord struct {
	Node    string
	Network string
	LTime   uint64
	Leave   bool
	TTL     time.Duration // remaining lifetime of a leave record
}

const flagLeave = 1 << 0

// Append appends the encoded record to b.
func (r *NetRecord) Append(b []byte) []byte {
	b = appendString(b, r.Node)
	b = appendString(b, r.Network)
	b = appendUvarint(b, r.LTime)
	b = appendFlag(b, flagLeave, r.Leave)
	if r.Leave {
		return appendTTL(b, r.TTL)
	}
	return b
}

func (r *reader) netRecord() NetRecord {
	var n NetRecord
	n.Node = r.name(MaxNodeNameLen)
	n.Network = r.string(MaxNetworkIDLen)
	n.LTime = r.uvarint()
	if r.flags(flagLeave)&flagLeave != 0 {
		n.Leave = true
		n.TTL = r.ttl()
	}
	return n
}

// NetworkEvents carries membership records: gossiped in the cluster
// scope, and as the whole membership table in memberlist's push/pull.
//
//	sender string | count uvarint | count x NetRecord
type NetworkEvents struct {
	Sender  string
	Records []NetRecord
}

// AppendHead appends the message up to and including a record count, for
// a packer that appends count records itself.
func (m NetworkEvents) AppendHead(b []byte, count int) []byte {
	b = appendHeader(b, TypeNetworkEvents)
	b = appendString(b, m.Sender)
	return appendCount(b, count)
}

// Append appends the encoded message to b.
func (m NetworkEvents) Append(b []byte) []byte {
	return appendItems(b, m.AppendHead, m.Records, (*NetRecord).Append)
}

// DecodeNetworkEvents decodes a whole TypeNetworkEvents message.
func DecodeNetworkEvents(buf []byte) (NetworkEvents, error) {
	return decode(buf, TypeNetworkEvents, func(r *reader, m *NetworkEvents) {
		m.Sender = r.name(MaxNodeNameLen)
		m.Records = readList(r, MaxRecordsPerMessage, minNetRecordSize, (*reader).netRecord)
	})
}
