package keydist

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
)

// SymmetricKeyLen is the size of gossip (AES-256) and data epoch keys.
const SymmetricKeyLen = 32

const symmetricPrefix = "symkey:"

// SymmetricKey is a 32-byte secret: a gossip keyring key or a data epoch key.
// The zero value is the absent key; compare with Equal. It never
// prints its bytes; Bytes and UAPIHex are the explicit ways out.
type SymmetricKey struct {
	k secretBytes
}

// NewSymmetricKey generates a key from rand (crypto/rand.Reader in
// production).
func NewSymmetricKey(rand io.Reader) (SymmetricKey, error) {
	var k [SymmetricKeyLen]byte
	if _, err := io.ReadFull(rand, k[:]); err != nil {
		return SymmetricKey{}, fmt.Errorf("generate symmetric key: %w", err)
	}
	return symmetricFrom(k[:]), nil
}

// symmetricFrom copies b, which must be SymmetricKeyLen bytes.
func symmetricFrom(b []byte) SymmetricKey { return SymmetricKey{k: newSecret(b)} }

// raw returns the key bytes (zeros for the absent key); callers must not
// modify or leak them.
func (s SymmetricKey) raw() []byte { return s.k.get(SymmetricKeyLen) }

// IsZero reports whether s is the absent key.
func (s SymmetricKey) IsZero() bool { return s.k.isZero() }

// Equal reports, in constant time, whether s and o are the same key.
func (s SymmetricKey) Equal(o SymmetricKey) bool { return s.k.equal(o.k, SymmetricKeyLen) }

// Bytes returns a fresh copy of the key, for memberlist's keyring (which keeps
// the slice it is given). Never log it.
func (s SymmetricKey) Bytes() []byte { return bytes.Clone(s.raw()) }

// UAPIHex returns the key in hex for wireguard-go's configuration protocol
// (preshared_key=...). Never log it.
func (s SymmetricKey) UAPIHex() string { return hex.EncodeToString(s.raw()) }

// String returns a redacted marker.
func (s SymmetricKey) String() string { return secretMarker(symmetricPrefix) }

// GoString returns a redacted marker.
func (s SymmetricKey) GoString() string { return secretMarker(symmetricPrefix) }

// Format prints a redacted marker for every verb.
func (s SymmetricKey) Format(f fmt.State, _ rune) { formatSecret(f, symmetricPrefix) }

// LogValue redacts the key in log/slog output.
func (s SymmetricKey) LogValue() slog.Value { return logSecret(symmetricPrefix) }

// MarshalText returns a redacted marker: secret keys are never serialised
// this way.
func (s SymmetricKey) MarshalText() ([]byte, error) {
	return []byte(secretMarker(symmetricPrefix)), nil
}

// MarshalJSON returns a redacted marker.
func (s SymmetricKey) MarshalJSON() ([]byte, error) { return jsonSecret(symmetricPrefix), nil }
