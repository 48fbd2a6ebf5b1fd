package keydist

import (
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxNodeNameLen bounds the node name an EvictRecord carries (bytes).
const MaxNodeNameLen = 255

// EvictRecord layout (big endian):
//
//	version u8 | kind u8 (2) | cluster [16] | seq u64 | issued at u64 (Unix ns) |
//	node public key [32] | name length u8 | name | signature [64]
//
// The signature is Ed25519ctx (context sigContextEvictRecord) over every byte
// before it.
const (
	evictRecordFixedLen = wireHeaderLen + ClusterIDLen + 8 + 8 + NodeKeyLen + 1 + SignatureLen
	// MaxEvictRecordLen is the largest encoded EvictRecord.
	MaxEvictRecordLen = evictRecordFixedLen + MaxNodeNameLen
)

// EvictRecord removes a node from the cluster for good: every member drops it
// from its WireGuard peers, refuses it as a gossip member and never seals key
// material to it again. A machine that should come back rejoins with a new
// node key and a fresh token.
type EvictRecord struct {
	ClusterID ClusterID
	Seq       uint64
	IssuedAt  time.Time
	Node      NodePublic
	// Name is the node's name when it was evicted, for people reading logs.
	Name      string
	Signature [SignatureLen]byte
}

// SignEvictRecord builds and signs an eviction of node.
func SignEvictRecord(admin AdminPrivate, cluster ClusterID, seq uint64, issuedAt time.Time, node NodePublic, name string) (*EvictRecord, error) {
	if err := checkHeader(seq, issuedAt); err != nil {
		return nil, fmt.Errorf("sign eviction: %w", err)
	}
	if cluster.IsZero() || node.IsZero() {
		return nil, fmt.Errorf("sign eviction: cluster id and node key must be set")
	}
	if err := checkNodeName(name); err != nil {
		return nil, fmt.Errorf("sign eviction: %w", err)
	}
	rec := &EvictRecord{ClusterID: cluster, Seq: seq, IssuedAt: issuedAt, Node: node, Name: name}
	sig, err := admin.sign(sigContextEvictRecord, rec.body())
	if err != nil {
		return nil, fmt.Errorf("sign eviction: %w", err)
	}
	rec.Signature = sig
	return rec, nil
}

// checkNodeName accepts printable UTF-8 up to MaxNodeNameLen bytes, so a
// name cannot smuggle terminal escapes into CLI output.
func checkNodeName(name string) error {
	if len(name) > MaxNodeNameLen {
		return fmt.Errorf("%w: node name is %d bytes, at most %d are allowed", ErrMalformed, len(name), MaxNodeNameLen)
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: node name is not valid UTF-8", ErrMalformed)
	}
	for _, c := range name {
		if !unicode.IsPrint(c) {
			return fmt.Errorf("%w: node name contains the non-printable character %U", ErrMalformed, c)
		}
	}
	return nil
}

// Verify checks the admin signature.
func (r *EvictRecord) Verify(admin AdminPublic) error {
	if !admin.verify(sigContextEvictRecord, r.body(), r.Signature) {
		return fmt.Errorf("eviction record seq %d: %w", r.Seq, ErrBadSignature)
	}
	return nil
}

// body is the signed part of the encoding.
func (r *EvictRecord) body() []byte {
	a := appender{b: make([]byte, 0, evictRecordFixedLen+len(r.Name))}
	a.header(kindEvictRecord)
	a.bytes(r.ClusterID[:])
	a.u64(r.Seq)
	a.time(r.IssuedAt)
	a.bytes(r.Node.k[:])
	a.u8(uint8(len(r.Name)))
	a.bytes([]byte(r.Name))
	return a.b
}

// Encode returns the binary form.
func (r *EvictRecord) Encode() []byte { return append(r.body(), r.Signature[:]...) }

// DecodeEvictRecord parses the binary form. It checks structure only; the
// caller verifies the signature (Member does).
func DecodeEvictRecord(b []byte) (*EvictRecord, error) {
	r, err := recordReader(b, MaxEvictRecordLen, kindEvictRecord, "eviction record")
	if err != nil {
		return nil, err
	}
	rec := &EvictRecord{}
	r.head(&rec.ClusterID, &rec.Seq, &rec.IssuedAt)
	r.copyInto(rec.Node.k[:], "node key")
	n := r.u8("name length")
	rec.Name = string(r.take(int(n), "node name"))
	r.copyInto(rec.Signature[:], "signature")
	if err := r.end("eviction record"); err != nil {
		return nil, err
	}
	if rec.ClusterID.IsZero() || rec.Seq == 0 || rec.IssuedAt.IsZero() || rec.Node.IsZero() {
		return nil, fmt.Errorf("%w: eviction record lacks a cluster id, sequence, issue time or node", ErrMalformed)
	}
	if err := checkNodeName(rec.Name); err != nil {
		return nil, err
	}
	return rec, nil
}
