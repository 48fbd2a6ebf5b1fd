package gossip

import (
	"crypto/aes"
	"crypto/cipher"

	"github.com/hashicorp/memberlist"
)

// packetAuth checks that a datagram decrypts under one of the cluster's
// gossip keys before memberlist sees it. memberlist builds a fresh AES-GCM
// cipher for every key and every packet it tries, so each junk datagram
// cost several allocations and a log line; here the ciphers are built once
// per keyring change and the check allocates nothing. Legitimate packets
// are decrypted twice, which gossip's few packets a second can afford.
// Used by the one goroutine that reads the UDP socket.
type packetAuth struct {
	ringCiphers
	scratch []byte
}

// ringCiphers holds an AES-GCM cipher per gossip key, primary first,
// rebuilt only when the keyring changes. Not safe for concurrent use.
type ringCiphers struct {
	ring  *memberlist.Keyring
	keys  [][]byte // the keyring slice the ciphers were built from
	aeads []cipher.AEAD
}

// memberlist's encrypted packet framing: a version byte (0: PKCS#7
// padded, 1: not), a nonce, the ciphertext and the GCM tag. meshnet sets
// no memberlist label, so a labelled packet is not one of ours.
const (
	encVersionMax = 1
	encNonceLen   = 12
	encTagLen     = 16
)

func newPacketAuth(ring *memberlist.Keyring) *packetAuth {
	return &packetAuth{ringCiphers: ringCiphers{ring: ring}, scratch: make([]byte, 0, maxGossipPacket)}
}

// ok reports whether b is a packet sealed with one of the gossip keys.
func (a *packetAuth) ok(b []byte) bool {
	if len(b) < 1+encNonceLen+encTagLen || b[0] > encVersionMax {
		return false
	}
	a.refresh()
	nonce, sealed := b[1:1+encNonceLen], b[1+encNonceLen:]
	for _, g := range a.aeads {
		if _, err := g.Open(a.scratch[:0], nonce, sealed, nil); err == nil {
			return true
		}
	}
	return false
}

// refresh rebuilds the ciphers when the keyring changed: memberlist
// replaces its key slice, or shortens it in place, on every change.
// memberlist keeps the primary key first.
func (a *ringCiphers) refresh() {
	keys := a.ring.GetKeys()
	if sameKeys(keys, a.keys) {
		return
	}
	a.aeads = a.aeads[:0]
	for _, k := range keys {
		block, err := aes.NewCipher(k)
		if err != nil {
			continue // memberlist refuses such keys when they are installed
		}
		g, err := cipher.NewGCM(block)
		if err != nil {
			continue
		}
		a.aeads = append(a.aeads, g)
	}
	a.keys = keys
}

// sameKeys reports whether two keyring slices hold the same keys, by
// identity (memberlist never changes a key's bytes in place).
func sameKeys(x, y [][]byte) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if len(x[i]) != len(y[i]) || len(x[i]) == 0 || &x[i][0] != &y[i][0] {
			return false
		}
	}
	return true
}
