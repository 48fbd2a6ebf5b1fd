package wire

import (
	"errors"
	"fmt"
)

// Digest summarises one replica so that two nodes can tell, with one small
// packet, whether a full exchange would change anything: either one
// network's table and membership (Network set), or the cluster membership
// as a whole (Members set, Network empty). Network may be the cluster
// scope, which is the empty string too.
//
//	sender string | network string | flags byte (bit 0: members) |
//	count uvarint | sum uvarint
type Digest struct {
	Sender  string
	Network string
	Members bool
	Summary Summary
}

const flagMembers = 1 << 0

// ErrDigestScope: a membership digest must not name a network.
var ErrDigestScope = errors.New("membership digest names a network")

// Append appends the encoded message to b.
func (m Digest) Append(b []byte) []byte {
	b = appendHeader(b, TypeDigest)
	b = appendString(b, m.Sender)
	b = appendString(b, m.Network)
	b = appendFlag(b, flagMembers, m.Members)
	b = appendUvarint(b, m.Summary.Count)
	return appendUvarint(b, m.Summary.Sum)
}

// DecodeDigest decodes a whole TypeDigest message.
func DecodeDigest(buf []byte) (Digest, error) {
	if len(buf) > MaxDigestSize {
		return Digest{}, fmt.Errorf("digest of %d bytes: %w", len(buf), ErrOversized)
	}
	return decode(buf, TypeDigest, func(r *reader, m *Digest) {
		m.Sender = r.name(MaxNodeNameLen)
		m.Network = r.string(MaxNetworkIDLen)
		m.Members = r.flags(flagMembers)&flagMembers != 0
		m.Summary.Count = r.uvarint()
		m.Summary.Sum = r.uvarint()
		if r.err == nil && m.Members && m.Network != "" {
			r.fail(ErrDigestScope)
		}
	})
}

// A Summary is the count and the sum (mod 2^64) of a 64-bit hash of every
// item a full exchange would carry, so it doesn't depend on order and two
// replicas with the same items agree. Items are hashed with the fields the
// merge compares; lifetimes are left out (they differ by transit time).
// Every node must hash alike: the hashes are pinned in golden_test.go.
type Summary struct{ Count, Sum uint64 }

// Add adds one item's hash.
func (s *Summary) Add(h Hash) {
	s.Count++
	s.Sum += mix64(uint64(h))
}

// Hash is an item's hash: FNV-1a over length-prefixed fields and a tag
// that keeps items of different kinds from hashing alike.
type Hash uint64

// EntryHash hashes what a merge compares of an entry: everything but its
// TTL, and its value only if it is not deleted.
func EntryHash(e *TableEvent) Hash {
	h := newHash(tagEntry).str(e.Table).str(e.Key).str(e.Owner).u64(e.LTime).flag(e.Deleted)
	if !e.Deleted {
		h = h.bytes(e.Value)
	}
	return h
}

// RecordHash hashes what a merge compares of a membership record:
// everything but its TTL.
func RecordHash(r *NetRecord) Hash {
	return newHash(tagRecord).str(r.Network).str(r.Node).u64(r.LTime).flag(r.Leave)
}

// MemberHash hashes what memberlist's push/pull would change about a
// node: its address ("host:port"), metadata and state.
func MemberHash(name, addr string, meta []byte, state uint8) Hash {
	return newHash(tagMember).str(name).str(addr).bytes(meta).u64(uint64(state))
}

const (
	fnvOffset Hash = 14695981039346656037
	fnvPrime  Hash = 1099511628211

	tagEntry  = 'e'
	tagRecord = 'r'
	tagMember = 'm'
)

func newHash(tag byte) Hash { return (fnvOffset ^ Hash(tag)) * fnvPrime }

func (h Hash) u64(v uint64) Hash {
	for range 8 {
		h = (h ^ Hash(v&0xff)) * fnvPrime
		v >>= 8
	}
	return h
}

func (h Hash) str(s string) Hash {
	h = h.u64(uint64(len(s)))
	for i := 0; i < len(s); i++ {
		h = (h ^ Hash(s[i])) * fnvPrime
	}
	return h
}

func (h Hash) bytes(p []byte) Hash {
	h = h.u64(uint64(len(p)))
	for _, c := range p {
		h = (h ^ Hash(c)) * fnvPrime
	}
	return h
}

func (h Hash) flag(b bool) Hash {
	if b {
		return h.u64(1)
	}
	return h.u64(0)
}

// mix64 is splitmix64's finalizer: FNV's low-entropy high bits would
// otherwise make sums of similar items collide more often than random.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
