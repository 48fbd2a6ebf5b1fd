package keydist

import (
	"crypto/ed25519"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Text prefixes of admin keys.
const (
	adminPublicPrefix  = "adminpub:"
	adminPrivatePrefix = "adminpriv:"
)

// Signature contexts (Ed25519ctx, RFC 8032): a signature made for one kind of
// message never verifies as another.
const (
	sigContextKeyRecord   = "meshnet keydist key-record v1"
	sigContextEvictRecord = "meshnet keydist evict-record v1"
	sigContextToken       = "meshnet keydist join-token v1"
)

// SignatureLen is the size of an admin signature.
const SignatureLen = ed25519.SignatureSize

// AdminPrivate is the ed25519 key that signs key records, eviction records
// and join tokens. The zero value is the absent key. It never prints its
// bytes.
type AdminPrivate struct {
	// seed||public, as crypto/ed25519 lays it out.
	k secretBytes
}

// NewAdminPrivate generates an admin key from rand (crypto/rand.Reader in
// production).
func NewAdminPrivate(rand io.Reader) (AdminPrivate, error) {
	_, priv, err := ed25519.GenerateKey(rand)
	if err != nil {
		return AdminPrivate{}, fmt.Errorf("generate admin key: %w", err)
	}
	return AdminPrivate{k: newSecret(priv)}, nil
}

// adminPrivateFromSeed expands a 32-byte seed.
func adminPrivateFromSeed(seed []byte) AdminPrivate {
	return AdminPrivate{k: newSecret(ed25519.NewKeyFromSeed(seed))}
}

// raw returns seed||public; callers must not modify or leak it.
func (a AdminPrivate) raw() []byte { return a.k.get(ed25519.PrivateKeySize) }

// seed returns the 32-byte seed, for the key file only.
func (a AdminPrivate) seed() []byte { return a.raw()[:ed25519.SeedSize] }

// IsZero reports whether a is the absent key.
func (a AdminPrivate) IsZero() bool { return a.k.isZero() }

// Equal reports, in constant time, whether a and o are the same key.
func (a AdminPrivate) Equal(o AdminPrivate) bool { return a.k.equal(o.k, ed25519.PrivateKeySize) }

// Public returns the public half of a, or the zero AdminPublic if a is zero.
func (a AdminPrivate) Public() AdminPublic {
	if a.IsZero() {
		return AdminPublic{}
	}
	var p AdminPublic
	copy(p.k[:], a.raw()[ed25519.SeedSize:])
	return p
}

// sign signs msg under the given context. a must not be zero.
func (a AdminPrivate) sign(context string, msg []byte) ([SignatureLen]byte, error) {
	var sig [SignatureLen]byte
	if a.IsZero() {
		return sig, fmt.Errorf("sign %s: no admin key; run this on an admin node", context)
	}
	s, err := ed25519.PrivateKey(a.raw()).Sign(nil, msg, &ed25519.Options{Context: context})
	if err != nil {
		return sig, fmt.Errorf("sign %s: %w", context, err)
	}
	copy(sig[:], s)
	return sig, nil
}

// String returns a redacted marker.
func (a AdminPrivate) String() string { return secretMarker(adminPrivatePrefix) }

// GoString returns a redacted marker.
func (a AdminPrivate) GoString() string { return secretMarker(adminPrivatePrefix) }

// Format prints a redacted marker for every verb.
func (a AdminPrivate) Format(f fmt.State, _ rune) { formatSecret(f, adminPrivatePrefix) }

// LogValue redacts the key in log/slog output.
func (a AdminPrivate) LogValue() slog.Value { return logSecret(adminPrivatePrefix) }

// MarshalText returns a redacted marker: private keys are never serialised.
func (a AdminPrivate) MarshalText() ([]byte, error) {
	return []byte(secretMarker(adminPrivatePrefix)), nil
}

// MarshalJSON returns a redacted marker: private keys are never serialised.
func (a AdminPrivate) MarshalJSON() ([]byte, error) { return jsonSecret(adminPrivatePrefix), nil }

// AdminPublic is the ed25519 public key every member pins from its join token
// and checks every record against. Comparable; prints as "adminpub:<base64>".
type AdminPublic struct {
	k [ed25519.PublicKeySize]byte
}

// ParseAdminPublic parses "adminpub:<base64>".
func ParseAdminPublic(s string) (AdminPublic, error) {
	b64, ok := strings.CutPrefix(s, adminPublicPrefix)
	b, err := base64.StdEncoding.Strict().DecodeString(b64)
	if !ok || err != nil || len(b) != ed25519.PublicKeySize {
		return AdminPublic{}, fmt.Errorf("%w: not an admin public key: want %q followed by the base64 of %d bytes",
			ErrMalformed, adminPublicPrefix, ed25519.PublicKeySize)
	}
	var p AdminPublic
	copy(p.k[:], b)
	return p, nil
}

// IsZero reports whether p is the absent key.
func (p AdminPublic) IsZero() bool { return p == AdminPublic{} }

// Equal reports, in constant time, whether p and o are the same key.
func (p AdminPublic) Equal(o AdminPublic) bool {
	return subtle.ConstantTimeCompare(p.k[:], o.k[:]) == 1
}

// String returns "adminpub:<base64>".
func (p AdminPublic) String() string {
	return adminPublicPrefix + base64.StdEncoding.EncodeToString(p.k[:])
}

// MarshalText returns the String form.
func (p AdminPublic) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText accepts what ParseAdminPublic accepts.
func (p *AdminPublic) UnmarshalText(b []byte) error {
	k, err := ParseAdminPublic(string(b))
	if err != nil {
		return err
	}
	*p = k
	return nil
}

// verify checks sig over msg under the given context.
func (p AdminPublic) verify(context string, msg []byte, sig [SignatureLen]byte) bool {
	if p.IsZero() {
		return false
	}
	return ed25519.VerifyWithOptions(p.k[:], msg, sig[:], &ed25519.Options{Context: context}) == nil
}
