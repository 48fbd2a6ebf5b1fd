package gossip

import (
	"crypto/rand"
	"errors"
	"sync"

	"github.com/hashicorp/memberlist"

	"meshnet.dev/meshnet/gossip/wire"
)

// pathNonceLen and pathTagLen frame a sealed path message (wire.PathMsg).
const (
	pathNonceLen = 12
	pathTagLen   = 16
	// maxPathPacket bounds a sealed path message on the wire.
	maxPathPacket = 1 + pathNonceLen + wire.MaxPathBody + pathTagLen
)

// pathAAD binds a sealed body to its framing: a path message can never be
// opened as anything else, nor a memberlist packet as a path message.
var pathAAD = []byte("meshnet path message v1")

var errPathUnsealed = errors.New("path message does not open under any gossip key")

// pathSealer seals path messages with the primary gossip key and opens
// them under any key of the ring, so members keep talking through a key
// rotation. Safe for concurrent use.
type pathSealer struct {
	mu sync.Mutex
	c  ringCiphers
}

func newPathSealer(ring *memberlist.Keyring) *pathSealer {
	return &pathSealer{c: ringCiphers{ring: ring}}
}

// seal appends the framed, sealed body to dst.
func (s *pathSealer) seal(dst, body []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.c.refresh()
	if len(s.c.aeads) == 0 {
		return dst, errors.New("no gossip key to seal a path message with")
	}
	dst = append(dst, wire.PathMsg)
	nonce := make([]byte, pathNonceLen)
	rand.Read(nonce)
	dst = append(dst, nonce...)
	return s.c.aeads[0].Seal(dst, nonce, body, pathAAD), nil
}

// open returns the body of the sealed message b, appended to dst.
func (s *pathSealer) open(dst, b []byte) ([]byte, error) {
	if len(b) < 1+pathNonceLen+pathTagLen || len(b) > maxPathPacket || b[0] != wire.PathMsg {
		return dst, errPathUnsealed
	}
	nonce, sealed := b[1:1+pathNonceLen], b[1+pathNonceLen:]
	s.mu.Lock()
	defer s.mu.Unlock()
	s.c.refresh()
	for _, g := range s.c.aeads {
		if out, err := g.Open(dst, nonce, sealed, pathAAD); err == nil {
			return out, nil
		}
	}
	return dst, errPathUnsealed
}
