package wire

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Path messages are meshnet's own datagrams on the gossip UDP port, beside
// memberlist's: what a node needs to learn how others reach it. Each one
// is sealed with a gossip key (gossip/pathmsg.go) inside this framing:
//
//	0xE7 | nonce (12) | sealed body and tag
//
// 0xE7 (PathMsg) is neither a memberlist message type, its label marker
// nor an encryption version, so a datagram can be told apart from
// memberlist's by its first byte. The body, once opened:
//
//	kind u8 | id u64 | kind's fields
//
// An observe request asks the receiver which address and port the
// datagram came from; the reply (same id) says it:
//
//	observe reply: address length u8 (4 or 16) | address | port u16
const PathMsg = 0xE7

// PathKind is the kind of a path message.
type PathKind uint8

// Path message kinds.
const (
	ObserveRequest PathKind = 1
	ObserveReply   PathKind = 2
)

// MaxPathBody bounds an opened path message body.
const MaxPathBody = 1 + 8 + 1 + 16 + 2

// PathBody is an opened path message.
type PathBody struct {
	Kind PathKind
	ID   uint64
	// Observed is the source address the observer saw (ObserveReply).
	Observed netip.AddrPort
}

// AppendPathBody appends p's encoding to b.
func AppendPathBody(b []byte, p PathBody) []byte {
	b = binary.BigEndian.AppendUint64(append(b, byte(p.Kind)), p.ID)
	if p.Kind == ObserveReply {
		a := p.Observed.Addr().Unmap()
		raw := a.AsSlice()
		b = append(append(b, byte(len(raw))), raw...)
		b = binary.BigEndian.AppendUint16(b, p.Observed.Port())
	}
	return b
}

// DecodePathBody decodes an opened path message body.
func DecodePathBody(b []byte) (PathBody, error) {
	var p PathBody
	if len(b) > MaxPathBody {
		return p, fmt.Errorf("path message of %d bytes: %w (%d)", len(b), ErrTooLong, MaxPathBody)
	}
	if len(b) < 9 {
		return p, fmt.Errorf("path message: %w", ErrTruncated)
	}
	p.Kind, p.ID, b = PathKind(b[0]), binary.BigEndian.Uint64(b[1:9]), b[9:]
	switch p.Kind {
	case ObserveRequest:
	case ObserveReply:
		if len(b) < 1 {
			return p, fmt.Errorf("observe reply: %w", ErrTruncated)
		}
		n := int(b[0])
		if n != 4 && n != 16 {
			return p, fmt.Errorf("observe reply: address of %d bytes: %w", n, ErrBadAddr)
		}
		if len(b) < 1+n+2 {
			return p, fmt.Errorf("observe reply: %w", ErrTruncated)
		}
		a, _ := netip.AddrFromSlice(b[1 : 1+n])
		if a.Is4In6() || !a.IsValid() || a.IsUnspecified() {
			return p, fmt.Errorf("observe reply: address %s: %w", a, ErrBadAddr)
		}
		port := binary.BigEndian.Uint16(b[1+n:])
		if port == 0 {
			return p, fmt.Errorf("observe reply: port 0: %w", ErrBadAddr)
		}
		p.Observed, b = netip.AddrPortFrom(a, port), b[1+n+2:]
	default:
		return p, fmt.Errorf("%w %d for a path message", ErrType, p.Kind)
	}
	if len(b) > 0 {
		return p, ErrTrailing
	}
	return p, nil
}
