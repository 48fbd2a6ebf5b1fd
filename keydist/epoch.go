package keydist

import (
	"crypto/sha256"
	"encoding/binary"
	"io"

	"golang.org/x/crypto/hkdf"
)

// HKDF labels for pair preshared keys. Changing them re-keys every pair, so
// they carry a version.
const (
	pskSalt      = "meshnet pair-psk salt v1"
	pskInfoLabel = "meshnet pair-psk v1"
)

// Epoch is one generation of the cluster data key. Number 0 with a zero Key
// means "not keyed yet".
type Epoch struct {
	Number uint64
	Key    SymmetricKey
}

// IsZero reports whether e is the unkeyed epoch.
func (e Epoch) IsZero() bool { return e.Number == 0 && e.Key.IsZero() }

// PairPSK derives the WireGuard preshared key of the pair (a, b) in epoch e:
//
//	HKDF-SHA256(secret = e.Key, salt = "meshnet pair-psk salt v1",
//	            info = "meshnet pair-psk v1" || uint64be(e.Number) || lo || hi)
//
// where lo and hi are a and b sorted by their bytes, so both ends derive the
// same key. Every new epoch re-keys every pair. For the unkeyed epoch it
// returns the zero key, which WireGuard treats as "no preshared key".
func PairPSK(e Epoch, a, b NodePublic) SymmetricKey {
	if e.Key.IsZero() {
		return SymmetricKey{}
	}
	lo, hi := a, b
	if lo.Compare(hi) > 0 {
		lo, hi = hi, lo
	}
	info := make([]byte, 0, len(pskInfoLabel)+8+2*NodeKeyLen)
	info = append(info, pskInfoLabel...)
	info = binary.BigEndian.AppendUint64(info, e.Number)
	info = append(info, lo.k[:]...)
	info = append(info, hi.k[:]...)
	var out [SymmetricKeyLen]byte
	if _, err := io.ReadFull(hkdf.New(sha256.New, e.Key.raw(), []byte(pskSalt), info), out[:]); err != nil {
		// HKDF-SHA256 yields up to 8160 bytes; 32 cannot fail.
		panic("keydist: hkdf: " + err.Error())
	}
	return symmetricFrom(out[:])
}

// Epochs is what a node keeps of the data key: the current epoch and the one
// before, so it can still key pairs with peers that have not applied the
// current one yet.
type Epochs struct {
	Current  Epoch
	Previous Epoch
}

// Advance returns es with e as the current epoch if e is newer; otherwise es
// unchanged.
func (es Epochs) Advance(e Epoch) Epochs {
	if e.Number <= es.Current.Number {
		return es
	}
	return Epochs{Current: e, Previous: es.Current}
}

// ForPeer returns the epoch to key the pair with a peer whose applied epoch
// is peerEpoch (as the peer announces it): the older of the two, if this node
// still has it, else the current one. Both ends thus agree as soon as each
// knows the other's epoch, and move to a new epoch once both hold it. A peer
// that has no epoch yet (a new member waiting for its grant) announces 0, the
// unkeyed epoch every node starts from: the pair then runs without a
// preshared key until the grant arrives.
func (es Epochs) ForPeer(peerEpoch uint64) Epoch {
	if peerEpoch < es.Current.Number && peerEpoch == es.Previous.Number {
		return es.Previous
	}
	return es.Current
}
