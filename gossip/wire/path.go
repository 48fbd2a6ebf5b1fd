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
// datagram came from, and says which gossip address the sender
// advertises; the reply (same id) says what it saw:
//
//	observe request: advertised address | flags u8
//	observe reply:   observed address | flags u8 (0)
//	address:         length u8 (4 or 16) | address | port u16
//
// A request's flags say whether its sender knows it is behind a NAT
// (PathBehindNAT); unknown flags are kept, for later versions.
const PathMsg = 0xE7

// PathKind is the kind of a path message.
type PathKind uint8

// Path message kinds.
const (
	ObserveRequest PathKind = 1
	ObserveReply   PathKind = 2
	// ConnectBack asks a member behind a NAT, which lets no stream in, to
	// open a stream to the sender's gossip port and start it with a
	// connect-back hello carrying the same id (ConnectBackMsg); the
	// sender then uses it as if it had dialled. Its address is the
	// sender's advertised gossip address.
	ConnectBack PathKind = 3
)

// ConnectBackMsg starts a stream opened for a ConnectBack request:
//
//	0xE8 | nonce (12) | sealed id (8) and tag (16)
//
// 0xE8 is neither a memberlist message type, its label marker, nor a
// side request (0xE5).
const ConnectBackMsg = 0xE8

// MaxPathBody bounds an opened path message body.
const MaxPathBody = 1 + 8 + 1 + 16 + 2 + 1

// PathBehindNAT flags a request whose sender is behind a NAT: it takes no
// inbound streams, and members send to where its packets come from.
const PathBehindNAT = 1 << 0

// PathBody is an opened path message.
type PathBody struct {
	Kind PathKind
	ID   uint64
	// Addr is the sender's advertised gossip address (ObserveRequest) or
	// the source address the observer saw (ObserveReply).
	Addr  netip.AddrPort
	Flags uint8
}

// AppendPathBody appends p's encoding to b.
func AppendPathBody(b []byte, p PathBody) []byte {
	b = binary.BigEndian.AppendUint64(append(b, byte(p.Kind)), p.ID)
	raw := p.Addr.Addr().Unmap().AsSlice()
	b = append(append(b, byte(len(raw))), raw...)
	b = binary.BigEndian.AppendUint16(b, p.Addr.Port())
	return append(b, p.Flags)
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
	if p.Kind != ObserveRequest && p.Kind != ObserveReply && p.Kind != ConnectBack {
		return p, fmt.Errorf("%w %d for a path message", ErrType, p.Kind)
	}
	if len(b) < 1 {
		return p, fmt.Errorf("path message address: %w", ErrTruncated)
	}
	n := int(b[0])
	if n != 4 && n != 16 {
		return p, fmt.Errorf("path message address of %d bytes: %w", n, ErrBadAddr)
	}
	if len(b) < 1+n+2+1 {
		return p, fmt.Errorf("path message: %w", ErrTruncated)
	}
	a, _ := netip.AddrFromSlice(b[1 : 1+n])
	port := binary.BigEndian.Uint16(b[1+n:])
	if a.Is4In6() || a.IsUnspecified() || port == 0 {
		return p, fmt.Errorf("path message address %s: %w", netip.AddrPortFrom(a, port), ErrBadAddr)
	}
	p.Addr, p.Flags = netip.AddrPortFrom(a, port), b[1+n+2]
	if len(b) > 1+n+2+1 {
		return p, ErrTrailing
	}
	return p, nil
}
