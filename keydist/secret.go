package keydist

import (
	"bytes"
	"crypto/subtle"
)

// secretBytes holds key material where neither fmt nor reflection-based
// encoders can reach it: reflect cannot see a closure's captured variables,
// so even a struct that keeps a key in an unexported field (where fmt cannot
// call the key's redacting methods) prints only a function address. It also
// makes the key types incomparable, so == does not compile and Equal (in
// constant time) is the only comparison. The zero value is the absent key.
type secretBytes func() []byte

// newSecret copies b into a new secret.
func newSecret(b []byte) secretBytes {
	c := bytes.Clone(b)
	return func() []byte { return c }
}

// get returns the key bytes, or n zero bytes for the absent key. Callers
// must not modify the result.
func (s secretBytes) get(n int) []byte {
	if s == nil {
		return make([]byte, n)
	}
	return s()
}

// isZero reports whether the secret is absent or all zero.
func (s secretBytes) isZero() bool {
	if s == nil {
		return true
	}
	b := s()
	return subtle.ConstantTimeCompare(b, make([]byte, len(b))) == 1
}

// equal compares two n-byte secrets in constant time.
func (s secretBytes) equal(o secretBytes, n int) bool {
	return subtle.ConstantTimeCompare(s.get(n), o.get(n)) == 1
}
