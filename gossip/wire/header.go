package wire

import (
	"errors"
	"fmt"
)

// Version is the only message version this code speaks.
const Version = 1

// headerLen is the version and the type byte.
const headerLen = 2

// Type identifies a message body. Append only: the values are on the wire.
type Type uint8

const (
	TypeTableEvents   Type = 1 // table events of one network, gossiped
	TypeNetworkEvents Type = 2 // network membership records, gossiped and pushed/pulled
	TypeBulkSync      Type = 3 // one network's table and membership, over a stream
	TypeDigest        Type = 4 // a summary of one network's replica or of membership, gossiped
	// NumTypes is one more than the largest type, for arrays indexed by Type.
	NumTypes = 5
)

var typeNames = [NumTypes]string{
	TypeTableEvents:   "table-events",
	TypeNetworkEvents: "network-events",
	TypeBulkSync:      "bulk-sync",
	TypeDigest:        "digest",
}

func (t Type) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return fmt.Sprintf("msg-type(%d)", uint8(t))
}

// Errors a decoder returns, possibly wrapped with details.
var (
	ErrShortHeader = errors.New("message shorter than its header")
	ErrVersion     = errors.New("unknown message version")
	ErrType        = errors.New("unknown message type")
	ErrOversized   = errors.New("message larger than MaxMessageSize")
	ErrEmptyField  = errors.New("required field is empty")
	ErrTruncated   = errors.New("message truncated")
	ErrTooLong     = errors.New("field exceeds its limit")
	ErrTrailing    = errors.New("trailing bytes after message")
	ErrBadAddr     = errors.New("address is not a usable unicast address")
	ErrReserved    = errors.New("reserved flag bits set")
)

// PeekType checks a message's size and header and returns its type, which
// tells the caller which decoder to use.
func PeekType(buf []byte) (Type, error) {
	if len(buf) > MaxMessageSize {
		return 0, ErrOversized
	}
	if len(buf) < headerLen {
		return 0, ErrShortHeader
	}
	if buf[0] != Version {
		return 0, fmt.Errorf("%w %d", ErrVersion, buf[0])
	}
	t := Type(buf[1])
	switch t {
	case TypeTableEvents, TypeNetworkEvents, TypeBulkSync, TypeDigest:
		return t, nil
	}
	return 0, fmt.Errorf("%w %d", ErrType, buf[1])
}

func appendHeader(b []byte, t Type) []byte { return append(b, Version, byte(t)) }

// decode decodes a whole message of type want: it checks the header, has
// read fill m from the body, and checks that exactly the body was read.
func decode[M any](buf []byte, want Type, read func(*reader, *M)) (M, error) {
	var m M
	t, err := PeekType(buf)
	if err != nil {
		return m, err
	}
	if t != want {
		return m, ErrType
	}
	r := reader{buf: buf[headerLen:]}
	read(&r, &m)
	return m, r.finish()
}
