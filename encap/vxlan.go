package encap

import (
	"encoding/binary"
	"errors"
)

// VXLAN header (RFC 7348, section 5):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|R|R|R|R|I|R|R|R|            Reserved                           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                VXLAN Network Identifier (VNI) |   Reserved    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The I flag must be set for the VNI to be valid. Reserved bits are sent as
// zero and ignored on receipt, as the RFC asks.

const (
	// Port is the IANA-assigned VXLAN UDP port.
	Port = 4789
	// HeaderLen is the size of the VXLAN header.
	HeaderLen = 8
	// MaxVNI is the largest 24-bit VXLAN network identifier.
	MaxVNI = 1<<24 - 1

	flagI = 0x08
)

// Sentinel errors returned by Parse.
var (
	ErrShort    = errors.New("vxlan: packet shorter than header")
	ErrNoIFlag  = errors.New("vxlan: I flag not set")
	ErrVNIRange = errors.New("vxlan: VNI out of range")
)

// Header is a decoded VXLAN header.
type Header struct {
	VNI uint32
}

// Encode writes a VXLAN header for vni into b[:HeaderLen]. b must be at least
// HeaderLen long and vni at most MaxVNI; Encode does not allocate.
func Encode(b []byte, vni uint32) {
	_ = b[HeaderLen-1]
	binary.BigEndian.PutUint32(b[0:4], flagI<<24)
	binary.BigEndian.PutUint32(b[4:8], vni<<8)
}

// Parse decodes the VXLAN header at the start of b. The inner frame starts at
// b[HeaderLen:].
func Parse(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, ErrShort
	}
	if b[0]&flagI == 0 {
		return Header{}, ErrNoIFlag
	}
	return Header{VNI: binary.BigEndian.Uint32(b[4:8]) >> 8}, nil
}

// ValidVNI reports whether vni can be carried in a VXLAN header. VNI 0 is
// reserved by meshnet as "no network".
func ValidVNI(vni uint32) bool { return vni > 0 && vni <= MaxVNI }
