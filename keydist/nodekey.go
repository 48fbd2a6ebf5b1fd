package keydist

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"golang.org/x/crypto/curve25519"
)

// NodeKeyLen is the size of a Curve25519 key.
const NodeKeyLen = curve25519.ScalarSize

// Text prefixes of node keys.
const (
	nodePublicPrefix  = "nodepub:"
	nodePrivatePrefix = "nodepriv:"
)

// NodePrivate is a node's Curve25519 private key: its WireGuard static key.
// The zero value is the absent key; compare with Equal. It never
// prints its bytes; UAPIHex is the one way out, for wireguard-go's config API.
type NodePrivate struct {
	k secretBytes
}

// NewNodePrivate generates a key from rand (crypto/rand.Reader in
// production), clamped as `wg genkey` does.
func NewNodePrivate(rand io.Reader) (NodePrivate, error) {
	var k [NodeKeyLen]byte
	if _, err := io.ReadFull(rand, k[:]); err != nil {
		return NodePrivate{}, fmt.Errorf("generate node key: %w", err)
	}
	k[0] &= 248
	k[31] = (k[31] & 127) | 64
	return nodePrivateFrom(k[:]), nil
}

// nodePrivateFrom copies b, which must be NodeKeyLen bytes.
func nodePrivateFrom(b []byte) NodePrivate { return NodePrivate{k: newSecret(b)} }

// raw returns the key bytes; callers must not modify or leak them.
func (p NodePrivate) raw() *[NodeKeyLen]byte { return (*[NodeKeyLen]byte)(p.k.get(NodeKeyLen)) }

// IsZero reports whether p is the absent key.
func (p NodePrivate) IsZero() bool { return p.k.isZero() }

// Equal reports, in constant time, whether p and o are the same key.
func (p NodePrivate) Equal(o NodePrivate) bool { return p.k.equal(o.k, NodeKeyLen) }

// Public returns the public key of p, or the zero NodePublic if p is zero.
func (p NodePrivate) Public() NodePublic {
	if p.IsZero() {
		return NodePublic{}
	}
	pub, err := curve25519.X25519(p.raw()[:], curve25519.Basepoint)
	if err != nil {
		// X25519 with the base point cannot produce the all-zero output.
		return NodePublic{}
	}
	var out NodePublic
	copy(out.k[:], pub)
	return out
}

// UAPIHex returns the key in hex for wireguard-go's configuration protocol
// (private_key=...). It is the only way to read the key; never log it.
func (p NodePrivate) UAPIHex() string { return hex.EncodeToString(p.raw()[:]) }

// String returns a redacted marker.
func (p NodePrivate) String() string { return secretMarker(nodePrivatePrefix) }

// GoString returns a redacted marker.
func (p NodePrivate) GoString() string { return secretMarker(nodePrivatePrefix) }

// Format prints a redacted marker for every verb.
func (p NodePrivate) Format(f fmt.State, _ rune) { formatSecret(f, nodePrivatePrefix) }

// LogValue redacts the key in log/slog output.
func (p NodePrivate) LogValue() slog.Value { return logSecret(nodePrivatePrefix) }

// MarshalText returns a redacted marker: private keys are never serialised.
func (p NodePrivate) MarshalText() ([]byte, error) {
	return []byte(secretMarker(nodePrivatePrefix)), nil
}

// MarshalJSON returns a redacted marker: private keys are never serialised.
func (p NodePrivate) MarshalJSON() ([]byte, error) { return jsonSecret(nodePrivatePrefix), nil }

// NodePublic is a node's Curve25519 public key. It is comparable and usable
// as a map key. String prints it in standard base64, as `wg show` does, so
// operators can compare the two.
type NodePublic struct {
	k [NodeKeyLen]byte
}

// NodePublicFromRaw32 wraps a raw public key, e.g. one read from wgctrl.
func NodePublicFromRaw32(b [NodeKeyLen]byte) NodePublic { return NodePublic{k: b} }

// ParseNodePublic parses "nodepub:<base64>" or the bare base64 form printed
// by `wg show` and `wg pubkey`.
func ParseNodePublic(s string) (NodePublic, error) {
	b64 := strings.TrimPrefix(s, nodePublicPrefix)
	b, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || len(b) != NodeKeyLen {
		// The input is not echoed: it may be a private key pasted by mistake.
		return NodePublic{}, fmt.Errorf("%w: not a node public key: want the base64 of %d bytes as `wg show` prints it, optionally prefixed %q",
			ErrMalformed, NodeKeyLen, nodePublicPrefix)
	}
	var p NodePublic
	copy(p.k[:], b)
	return p, nil
}

// Raw32 returns the key bytes (public; safe to share).
func (p NodePublic) Raw32() [NodeKeyLen]byte { return p.k }

// IsZero reports whether p is the absent key.
func (p NodePublic) IsZero() bool { return p == NodePublic{} }

// Equal reports, in constant time, whether p and o are the same key.
func (p NodePublic) Equal(o NodePublic) bool {
	return subtle.ConstantTimeCompare(p.k[:], o.k[:]) == 1
}

// Compare orders keys by their bytes, for canonical sorting.
func (p NodePublic) Compare(o NodePublic) int { return bytes.Compare(p.k[:], o.k[:]) }

// String returns the key in standard base64, as `wg show` prints it.
func (p NodePublic) String() string { return base64.StdEncoding.EncodeToString(p.k[:]) }

// UAPIHex returns the key in hex for wireguard-go's configuration protocol
// (public_key=...).
func (p NodePublic) UAPIHex() string { return hex.EncodeToString(p.k[:]) }

// MarshalText returns "nodepub:<base64>".
func (p NodePublic) MarshalText() ([]byte, error) {
	return []byte(nodePublicPrefix + p.String()), nil
}

// UnmarshalText accepts what ParseNodePublic accepts.
func (p *NodePublic) UnmarshalText(b []byte) error {
	k, err := ParseNodePublic(string(b))
	if err != nil {
		return err
	}
	*p = k
	return nil
}

// usable reports whether p can receive sealed material: it is not zero and
// not a low-order point (for which anyone could open a box sealed to it).
func (p NodePublic) usable() bool {
	// Any clamped scalar times a low-order point gives the all-zero output,
	// which X25519 reports as an error.
	scalar := [NodeKeyLen]byte{0: 8, 31: 64}
	_, err := curve25519.X25519(scalar[:], p.k[:])
	return err == nil
}
