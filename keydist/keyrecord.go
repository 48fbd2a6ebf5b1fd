package keydist

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"golang.org/x/crypto/nacl/box"
)

// MaxRecipients bounds the nodes one key record is sealed to, and so the
// size of a record anyone has to decode.
const MaxRecipients = 10000

// KeyRecord layout (big endian):
//
//	version u8 | kind u8 (1) | cluster [16] | seq u64 | issued at u64 (Unix ns) |
//	epoch u64 | recipient count u32 |
//	count × ( recipient public key [32] | sealed material [sealedMaterialLen] ) |
//	signature [64]
//
// Recipients are sorted by public key with no duplicates. The signature is
// Ed25519ctx (context sigContextKeyRecord) over every byte before it.
const (
	keyRecordFixedLen = wireHeaderLen + ClusterIDLen + 8 + 8 + 8 + 4 + SignatureLen
	recipientLen      = NodeKeyLen + sealedMaterialLen
	// MaxKeyRecordLen is the largest encoded KeyRecord (about 2.4 MB, at
	// MaxRecipients); longer input is rejected before it is parsed.
	MaxKeyRecordLen = keyRecordFixedLen + MaxRecipients*recipientLen
)

// KeyRecord distributes a new data epoch and gossip keyring: the material is
// sealed to each recipient with an anonymous NaCl box (only that node's
// private key opens it) and the record is signed by the admin key.
type KeyRecord struct {
	ClusterID ClusterID
	// Seq orders records from the admin; members accept only increasing
	// values (Tracker).
	Seq      uint64
	IssuedAt time.Time
	// Epoch is the number of the data epoch the material carries.
	Epoch      uint64
	Recipients []Sealed
	Signature  [SignatureLen]byte
}

// Sealed is the material sealed to one recipient. A record keeps its
// Recipients sorted by To, without duplicates.
type Sealed struct {
	To  NodePublic
	Box []byte
}

// SealKeyRecord seals m to every node in to (duplicates are dropped) and
// signs the record with admin. rand is crypto/rand.Reader in production.
func SealKeyRecord(admin AdminPrivate, seq uint64, issuedAt time.Time, m Material, to []NodePublic, rand io.Reader) (*KeyRecord, error) {
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("seal key record: %w", err)
	}
	if err := checkHeader(seq, issuedAt); err != nil {
		return nil, fmt.Errorf("seal key record: %w", err)
	}
	recips := slices.Clone(to)
	slices.SortFunc(recips, NodePublic.Compare)
	recips = slices.Compact(recips)
	if len(recips) > MaxRecipients {
		return nil, fmt.Errorf("seal key record: %d recipients, at most %d are supported", len(recips), MaxRecipients)
	}
	plain := m.encode()
	rec := &KeyRecord{ClusterID: m.ClusterID, Seq: seq, IssuedAt: issuedAt, Epoch: m.Epoch.Number}
	rec.Recipients = make([]Sealed, 0, len(recips))
	for _, pub := range recips {
		if !pub.usable() {
			return nil, fmt.Errorf("seal key record: recipient %s is not a valid Curve25519 public key", pub)
		}
		sealed, err := box.SealAnonymous(nil, plain, &pub.k, rand)
		if err != nil {
			return nil, fmt.Errorf("seal key record for %s: %w", pub, err)
		}
		rec.Recipients = append(rec.Recipients, Sealed{To: pub, Box: sealed})
	}
	sig, err := admin.sign(sigContextKeyRecord, rec.body())
	if err != nil {
		return nil, fmt.Errorf("seal key record: %w", err)
	}
	rec.Signature = sig
	return rec, nil
}

// checkHeader validates the fields every record carries.
func checkHeader(seq uint64, issuedAt time.Time) error {
	if seq == 0 {
		return errors.New("sequence number 0 is reserved; start at 1")
	}
	return checkTime(issuedAt, "issue time")
}

// checkTime accepts the times the binary forms can carry.
func checkTime(t time.Time, what string) error {
	if t.Before(time.Unix(1, 0)) || t.After(time.Unix(0, 1<<63-1)) {
		return fmt.Errorf("%s %s is outside the encodable range (1970 to 2262); check the clock", what, t)
	}
	return nil
}

// Verify checks the admin signature. It does not check the cluster or the
// sequence; Member does all three.
func (r *KeyRecord) Verify(admin AdminPublic) error {
	if !admin.verify(sigContextKeyRecord, r.body(), r.Signature) {
		return fmt.Errorf("key record seq %d: %w", r.Seq, ErrBadSignature)
	}
	return nil
}

// Has reports whether the record is sealed to pub.
func (r *KeyRecord) Has(pub NodePublic) bool {
	_, ok := slices.BinarySearchFunc(r.Recipients, pub, func(s Sealed, p NodePublic) int { return s.To.Compare(p) })
	return ok
}

// Open unseals the material sealed to me. It does not check the signature:
// call Verify first (Member does).
func (r *KeyRecord) Open(me NodePrivate) (Material, error) {
	pub := me.Public()
	i, ok := slices.BinarySearchFunc(r.Recipients, pub, func(s Sealed, p NodePublic) int { return s.To.Compare(p) })
	if !ok || pub.IsZero() {
		return Material{}, fmt.Errorf("key record seq %d, node %s: %w", r.Seq, pub, ErrNotRecipient)
	}
	plain, ok := box.OpenAnonymous(nil, r.Recipients[i].Box, &pub.k, me.raw())
	if !ok {
		return Material{}, fmt.Errorf("%w: key record seq %d: the box sealed to %s does not open with this node's key", ErrMalformed, r.Seq, pub)
	}
	m, err := decodeMaterial(plain)
	if err != nil {
		return Material{}, fmt.Errorf("key record seq %d: %w", r.Seq, err)
	}
	if m.ClusterID != r.ClusterID || m.Epoch.Number != r.Epoch {
		return Material{}, fmt.Errorf("%w: key record seq %d: sealed material names cluster %s epoch %d, the record cluster %s epoch %d",
			ErrMalformed, r.Seq, m.ClusterID, m.Epoch.Number, r.ClusterID, r.Epoch)
	}
	return m, nil
}

// body is the signed part of the encoding.
func (r *KeyRecord) body() []byte {
	a := appender{b: make([]byte, 0, keyRecordFixedLen+len(r.Recipients)*recipientLen)}
	a.header(kindKeyRecord)
	a.bytes(r.ClusterID[:])
	a.u64(r.Seq)
	a.time(r.IssuedAt)
	a.u64(r.Epoch)
	a.u32(uint32(len(r.Recipients)))
	for _, s := range r.Recipients {
		a.bytes(s.To.k[:])
		a.bytes(s.Box)
	}
	return a.b
}

// Encode returns the binary form.
func (r *KeyRecord) Encode() []byte { return append(r.body(), r.Signature[:]...) }

// DecodeKeyRecord parses the binary form. It checks structure only; the
// caller verifies the signature (Member does).
func DecodeKeyRecord(b []byte) (*KeyRecord, error) {
	r, err := recordReader(b, MaxKeyRecordLen, kindKeyRecord, "key record")
	if err != nil {
		return nil, err
	}
	rec := &KeyRecord{}
	r.head(&rec.ClusterID, &rec.Seq, &rec.IssuedAt)
	rec.Epoch = r.u64("epoch number")
	n := r.u32("recipient count")
	if r.err == nil && n > MaxRecipients {
		r.fail("%d recipients exceed the limit of %d", n, MaxRecipients)
	}
	if r.err == nil && len(r.b) != int(n)*recipientLen+SignatureLen {
		r.fail("key record length does not match its %d recipients", n)
	}
	if r.err == nil {
		boxes := make([]byte, int(n)*sealedMaterialLen) // one copy; the input is not kept
		rec.Recipients = make([]Sealed, n)
		for i := range rec.Recipients {
			s := &rec.Recipients[i]
			r.copyInto(s.To.k[:], "recipient")
			s.Box = boxes[i*sealedMaterialLen : (i+1)*sealedMaterialLen : (i+1)*sealedMaterialLen]
			r.copyInto(s.Box, "sealed material")
			if i > 0 && rec.Recipients[i-1].To.Compare(s.To) >= 0 {
				r.fail("recipients are not sorted and unique")
			}
		}
	}
	r.copyInto(rec.Signature[:], "signature")
	if err := r.end("key record"); err != nil {
		return nil, err
	}
	if rec.ClusterID.IsZero() || rec.Seq == 0 || rec.Epoch == 0 || rec.IssuedAt.IsZero() {
		return nil, fmt.Errorf("%w: key record lacks a cluster id, sequence, epoch or issue time", ErrMalformed)
	}
	return rec, nil
}
