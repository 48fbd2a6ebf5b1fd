package keydist

import (
	"fmt"

	"golang.org/x/crypto/nacl/box"
)

// Material is the key material a KeyRecord seals to each recipient: the new
// data epoch and the gossip keyring. It names its cluster and epoch so a box
// cannot be taken out of one record and read as part of another.
type Material struct {
	ClusterID ClusterID
	Epoch     Epoch
	Ring      GossipKeyring
}

// Material layout (big endian), materialLen bytes:
//
//	version u8 | kind u8 | cluster [16] | epoch u64 | epoch key [32] |
//	primary u8 | ring key 0 [32] | ring key 1 [32] | ring key 2 [32]
const (
	materialLen = wireHeaderLen + ClusterIDLen + 8 + SymmetricKeyLen + 1 + RingSize*SymmetricKeyLen
	// sealedMaterialLen is the size of a material box sealed to one node.
	sealedMaterialLen = materialLen + box.AnonymousOverhead
)

// validate checks that m can be sealed.
func (m Material) validate() error {
	if m.ClusterID.IsZero() {
		return fmt.Errorf("%w: key material has no cluster id", ErrMalformed)
	}
	if m.Epoch.Number == 0 || m.Epoch.Key.IsZero() {
		return fmt.Errorf("%w: key material has no data epoch (number and key must be set)", ErrMalformed)
	}
	return m.Ring.Validate()
}

// encode returns the plaintext that gets sealed.
func (m Material) encode() []byte {
	a := appender{b: make([]byte, 0, materialLen)}
	a.header(kindMaterial)
	a.bytes(m.ClusterID[:])
	a.u64(m.Epoch.Number)
	a.bytes(m.Epoch.Key.raw())
	a.u8(uint8(m.Ring.Primary))
	for _, k := range m.Ring.Keys {
		a.bytes(k.raw())
	}
	return a.b
}

// decodeMaterial parses an opened box.
func decodeMaterial(b []byte) (Material, error) {
	r := reader{b: b}
	var m Material
	r.header(kindMaterial, "key material")
	r.copyInto(m.ClusterID[:], "cluster id")
	m.Epoch.Number = r.u64("epoch number")
	if v := r.take(SymmetricKeyLen, "epoch key"); v != nil {
		m.Epoch.Key = symmetricFrom(v)
	}
	m.Ring.Primary = int(r.u8("ring primary"))
	for i := range m.Ring.Keys {
		if v := r.take(SymmetricKeyLen, "ring key"); v != nil {
			m.Ring.Keys[i] = symmetricFrom(v)
		}
	}
	if err := r.end("key material"); err != nil {
		return Material{}, err
	}
	if err := m.validate(); err != nil {
		return Material{}, err
	}
	return m, nil
}
