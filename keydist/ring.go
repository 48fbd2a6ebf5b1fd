package keydist

import (
	"bytes"
	"fmt"
	"io"
)

// RingSize is the number of keys in the gossip keyring.
const RingSize = 3

// primaryIndex is where the primary sits after every rotation: the middle.
const primaryIndex = 1

// GossipKeyring is the cluster's memberlist keyring: three AES-256 keys, of
// which Keys[Primary] encrypts outgoing gossip and all three decrypt.
//
// In steady state Keys is [previous, primary, next]: next has been installed
// on every node for a whole rotation period before anyone sends with it, and
// previous stays for a period after anyone stopped sending with it.
type GossipKeyring struct {
	Keys    [RingSize]SymmetricKey
	Primary int
}

// NewGossipKeyring returns a keyring of fresh keys for a new cluster.
func NewGossipKeyring(rand io.Reader) (GossipKeyring, error) {
	var r GossipKeyring
	for i := range r.Keys {
		k, err := NewSymmetricKey(rand)
		if err != nil {
			return GossipKeyring{}, fmt.Errorf("new gossip keyring: %w", err)
		}
		r.Keys[i] = k
	}
	r.Primary = primaryIndex
	return r, nil
}

// Rotate returns the keyring after a regular rotation: the oldest key is
// dropped, the next key becomes primary and newKey becomes the next key.
func (r GossipKeyring) Rotate(newKey SymmetricKey) GossipKeyring {
	return GossipKeyring{Keys: [RingSize]SymmetricKey{r.Keys[1], r.Keys[2], newKey}, Primary: primaryIndex}
}

// Emergency returns the keyring after an eviction: the current primary stays
// receive-only so nodes that have not applied the change yet are still heard,
// primary takes over sending at once and next is staged. A node that knew
// only the old keys can no longer read anything sent with the new ring.
func (r GossipKeyring) Emergency(primary, next SymmetricKey) GossipKeyring {
	return GossipKeyring{Keys: [RingSize]SymmetricKey{r.PrimaryKey(), primary, next}, Primary: primaryIndex}
}

// Restage returns the keyring with its next key replaced by next, primary
// and previous unchanged. It is the first half of an eviction: the evicted
// node knew the staged next key, so a fresh one is staged and sealed to the
// remaining members, who install it receive-only while everyone still sends
// with the current primary (which the new keys' delivery depends on). Once
// they hold it, a regular Rotate makes it primary.
func (r GossipKeyring) Restage(next SymmetricKey) GossipKeyring {
	return GossipKeyring{Keys: [RingSize]SymmetricKey{r.Keys[0], r.PrimaryKey(), next}, Primary: primaryIndex}
}

// PrimaryKey returns the key used to send.
func (r GossipKeyring) PrimaryKey() SymmetricKey {
	if r.Primary < 0 || r.Primary >= RingSize {
		return SymmetricKey{}
	}
	return r.Keys[r.Primary]
}

// Contains reports whether k is one of the ring's keys.
func (r GossipKeyring) Contains(k SymmetricKey) bool {
	found := false
	for _, rk := range r.Keys {
		// No early exit: the time taken does not say which key matched.
		if !k.IsZero() && rk.Equal(k) {
			found = true
		}
	}
	return found
}

// Equal reports whether r and o hold the same keys and primary.
func (r GossipKeyring) Equal(o GossipKeyring) bool {
	eq := r.Primary == o.Primary
	for i := range r.Keys {
		eq = r.Keys[i].Equal(o.Keys[i]) && eq
	}
	return eq
}

// IsZero reports whether r holds no keys.
func (r GossipKeyring) IsZero() bool {
	for _, k := range r.Keys {
		if !k.IsZero() {
			return false
		}
	}
	return true
}

// Validate checks that the keys are set and distinct and the primary is one
// of them.
func (r GossipKeyring) Validate() error {
	if r.Primary < 0 || r.Primary >= RingSize {
		return fmt.Errorf("%w: gossip keyring primary index %d is not in [0,%d)", ErrMalformed, r.Primary, RingSize)
	}
	for i, k := range r.Keys {
		if k.IsZero() {
			return fmt.Errorf("%w: gossip keyring key %d is missing", ErrMalformed, i)
		}
		for j := i + 1; j < RingSize; j++ {
			if k.Equal(r.Keys[j]) {
				return fmt.Errorf("%w: gossip keyring keys %d and %d are the same", ErrMalformed, i, j)
			}
		}
	}
	return nil
}

// MemberlistKeys returns fresh copies of the keys in the form
// memberlist.NewKeyring takes: the primary, and all keys.
func (r GossipKeyring) MemberlistKeys() (primary []byte, all [][]byte) {
	for _, k := range r.Keys {
		all = append(all, k.Bytes())
	}
	return r.PrimaryKey().Bytes(), all
}

// Keyring is the part of a gossip keyring that Apply drives.
// *memberlist.Keyring satisfies it.
type Keyring interface {
	AddKey(key []byte) error
	UseKey(key []byte) error
	RemoveKey(key []byte) error
	GetKeys() [][]byte
}

// Apply makes kr hold exactly r's keys with r's primary, in the order that
// never leaves this node unable to decrypt: install every key, then switch
// the primary, then remove the keys r no longer holds.
func (r GossipKeyring) Apply(kr Keyring) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("apply gossip keyring: %w", err)
	}
	for i, k := range r.Keys {
		if err := kr.AddKey(k.Bytes()); err != nil {
			return fmt.Errorf("apply gossip keyring: install key %d: %w", i, err)
		}
	}
	if err := kr.UseKey(r.PrimaryKey().Bytes()); err != nil {
		return fmt.Errorf("apply gossip keyring: switch primary: %w", err)
	}
	// Copy the list first: memberlist's RemoveKey shifts the slice that
	// GetKeys returned in place.
	installed := append([][]byte(nil), kr.GetKeys()...)
	var stale [][]byte
	for _, have := range installed {
		keep := false
		for _, k := range r.Keys {
			if bytes.Equal(have, k.Bytes()) {
				keep = true
			}
		}
		if !keep {
			stale = append(stale, bytes.Clone(have))
		}
	}
	for _, key := range stale {
		if err := kr.RemoveKey(key); err != nil {
			return fmt.Errorf("apply gossip keyring: remove a retired key: %w", err)
		}
	}
	return nil
}
