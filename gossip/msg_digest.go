package gossip

import (
	"errors"
	"fmt"
)

// digestMsg summarises one replica so that two nodes can tell, with one
// small packet, whether a full exchange would change anything: either one
// network's table and membership (Network set), or the cluster membership
// as a whole (Members set, Network empty). Network may be ClusterScope,
// which is the empty string too. See digest.go.
//
//	sender string | network string | flags byte (bit 0: members) |
//	count uvarint | sum uvarint
type digestMsg struct {
	Sender  string
	Network string
	Members bool
	Digest  digest
}

const flagMembers = 1 << 0

// maxDigestMsgSize bounds an encoded digest message: header, two bounded
// strings with their lengths, flags and two uvarints.
const maxDigestMsgSize = 2 + (2 + MaxNodeNameLen) + (1 + MaxNetworkIDLen) + 1 + 2*10

var errDigestScope = errors.New("membership digest names a network")

func (m digestMsg) encode() []byte {
	b := make([]byte, 0, 32+len(m.Sender)+len(m.Network))
	b = appendHeader(b, msgDigest)
	b = appendString(b, m.Sender)
	b = appendString(b, m.Network)
	var flags byte
	if m.Members {
		flags |= flagMembers
	}
	b = append(b, flags)
	b = appendUvarint(b, m.Digest.count)
	return appendUvarint(b, m.Digest.sum)
}

// decodeDigest decodes a whole msgDigest message.
func decodeDigest(buf []byte) (digestMsg, error) {
	var m digestMsg
	if len(buf) > maxDigestMsgSize {
		return m, fmt.Errorf("digest of %d bytes: %w", len(buf), errOversized)
	}
	t, body, err := splitHeader(buf)
	if err != nil {
		return m, err
	}
	if t != msgDigest {
		return m, errType
	}
	r := reader{buf: body}
	m.Sender = r.name(MaxNodeNameLen)
	m.Network = r.string(MaxNetworkIDLen)
	switch flags := r.byte(); {
	case flags&^flagMembers != 0:
		r.fail(errReserved)
	default:
		m.Members = flags&flagMembers != 0
	}
	m.Digest.count = r.uvarint()
	m.Digest.sum = r.uvarint()
	if r.err == nil && m.Members && m.Network != "" {
		r.fail(errDigestScope)
	}
	return m, r.finish()
}
