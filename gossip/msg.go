package gossip

import (
	"errors"
	"fmt"
	"time"
)

// Every gossip message starts with a version and a type byte:
//
//	 0               1               2
//	+---------------+---------------+-------- ... --------+
//	|    version    |     type      |        body         |
//	+---------------+---------------+-------- ... --------+
//
// The body is a sequence of fields: uvarints, length-prefixed (uvarint)
// strings and byte strings, flag bytes. Message types are append-only; a
// message with an unknown version or type is dropped and counted. Within a
// version, reserved flag bits must be zero.

// wireVersion is the only version this code speaks.
const wireVersion = 1

// msgType identifies a message body. Append only: the values are on the wire.
type msgType uint8

const (
	msgTableEvents   msgType = 1 // table events of one network, gossiped
	msgNetworkEvents msgType = 2 // network membership records, gossiped and pushed/pulled
	msgBulkSync      msgType = 3 // one network's table and membership, over a stream
	msgDigest        msgType = 4 // a summary of one network's replica or of membership, gossiped
	msgTypeCount             = 5 // one more than the largest type, for counters
)

func (t msgType) String() string {
	switch t {
	case msgTableEvents:
		return "table-events"
	case msgNetworkEvents:
		return "network-events"
	case msgBulkSync:
		return "bulk-sync"
	case msgDigest:
		return "digest"
	}
	return fmt.Sprintf("msg-type(%d)", uint8(t))
}

var (
	errShortHeader = errors.New("message shorter than its header")
	errVersion     = errors.New("unknown message version")
	errType        = errors.New("unknown message type")
	errOversized   = errors.New("message larger than MaxMessageSize")
	errEmptyField  = errors.New("required field is empty")
)

// splitHeader checks the header and returns the type and body.
func splitHeader(buf []byte) (msgType, []byte, error) {
	if len(buf) > MaxMessageSize {
		return 0, nil, errOversized
	}
	if len(buf) < 2 {
		return 0, nil, errShortHeader
	}
	if buf[0] != wireVersion {
		return 0, nil, fmt.Errorf("%w %d", errVersion, buf[0])
	}
	t := msgType(buf[1])
	switch t {
	case msgTableEvents, msgNetworkEvents, msgBulkSync, msgDigest:
		return t, buf[2:], nil
	}
	return 0, nil, fmt.Errorf("%w %d", errType, buf[1])
}

func appendHeader(b []byte, t msgType) []byte { return append(b, wireVersion, byte(t)) }

// Lifetimes travel as remaining milliseconds, never as absolute times, so
// a receiver's clock skew doesn't matter.
func appendTTL(b []byte, d time.Duration) []byte {
	if d < 0 {
		d = 0
	}
	return appendUvarint(b, uint64(d/time.Millisecond))
}

func (r *reader) ttl() time.Duration {
	ms := r.uvarint()
	if ms > uint64(maxTTL/time.Millisecond) {
		return maxTTL
	}
	return time.Duration(ms) * time.Millisecond
}

// name reads a required, bounded string.
func (r *reader) name(max int) string {
	s := r.string(max)
	if r.err == nil && s == "" {
		r.fail(errEmptyField)
	}
	return s
}
