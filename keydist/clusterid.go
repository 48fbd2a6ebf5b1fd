package keydist

import (
	"encoding/hex"
	"fmt"
	"io"
)

// ClusterIDLen is the size of a cluster id.
const ClusterIDLen = 16

// ClusterID names a cluster: 16 random bytes chosen when the cluster is
// created, so two clusters never share one by accident. Not secret; prints as
// 32 hex digits.
type ClusterID [ClusterIDLen]byte

// NewClusterID draws a fresh id from rand.
func NewClusterID(rand io.Reader) (ClusterID, error) {
	var id ClusterID
	if _, err := io.ReadFull(rand, id[:]); err != nil {
		return ClusterID{}, fmt.Errorf("generate cluster id: %w", err)
	}
	return id, nil
}

// ParseClusterID parses the String form.
func ParseClusterID(s string) (ClusterID, error) {
	var id ClusterID
	if len(s) != 2*ClusterIDLen {
		return id, fmt.Errorf("%w: cluster id must be %d hex digits, got %d characters", ErrMalformed, 2*ClusterIDLen, len(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return ClusterID{}, fmt.Errorf("%w: cluster id must be %d hex digits", ErrMalformed, 2*ClusterIDLen)
	}
	return id, nil
}

// IsZero reports whether id is unset.
func (id ClusterID) IsZero() bool { return id == ClusterID{} }

// String returns the id as 32 lowercase hex digits.
func (id ClusterID) String() string { return hex.EncodeToString(id[:]) }

// MarshalText returns the String form.
func (id ClusterID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText accepts the String form.
func (id *ClusterID) UnmarshalText(b []byte) error {
	v, err := ParseClusterID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}
