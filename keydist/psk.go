package keydist

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// A static peer (a host with stock WireGuard that does not run meshnet) may
// share a fixed preshared key with the cluster, written by `wg genpsk`: the
// base64 of 32 random bytes. It is a SymmetricKey like the epoch keys, so
// it prints redacted everywhere; the text form is read here and the bytes
// leave only through Bytes and UAPIHex.

// ParsePresharedKey parses a preshared key as `wg genpsk` prints it (the
// base64 of 32 bytes; surrounding white space is ignored). The error never
// contains the input.
func ParsePresharedKey(s string) (SymmetricKey, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != SymmetricKeyLen {
		return SymmetricKey{}, fmt.Errorf("%w: not a preshared key: want the base64 of %d bytes as `wg genpsk` prints it",
			ErrMalformed, SymmetricKeyLen)
	}
	return PresharedKeyFromBytes(b)
}

// PresharedKeyFromBytes wraps the raw 32 bytes of a preshared key, as they
// travel in the cluster's encrypted gossip. An all-zero key means "no
// preshared key" to WireGuard and is refused.
func PresharedKeyFromBytes(b []byte) (SymmetricKey, error) {
	if len(b) != SymmetricKeyLen {
		return SymmetricKey{}, fmt.Errorf("%w: a preshared key is %d bytes, not %d", ErrMalformed, SymmetricKeyLen, len(b))
	}
	k := symmetricFrom(b)
	if k.IsZero() {
		return SymmetricKey{}, fmt.Errorf("%w: the preshared key is all zeros", ErrMalformed)
	}
	return k, nil
}
