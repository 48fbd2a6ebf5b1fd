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

// pathAAD and helloAAD bind a sealed body to its framing: a path message
// can never be opened as a connect-back hello or anything else.
var (
	pathAAD  = []byte("meshnet path message v1")
	helloAAD = []byte("meshnet connect-back hello v1")
)

// helloLen is a connect-back hello's length (wire.ConnectBackMsg).
const helloLen = 1 + pathNonceLen + 8 + pathTagLen

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

// seal appends the framed, sealed path message body to dst.
func (s *pathSealer) seal(dst, body []byte) ([]byte, error) {
	return s.sealAs(dst, wire.PathMsg, body, pathAAD)
}

// open returns the body of the sealed path message b, appended to dst.
func (s *pathSealer) open(dst, b []byte) ([]byte, error) {
	if len(b) > maxPathPacket {
		return dst, errPathUnsealed
	}
	return s.openAs(dst, wire.PathMsg, b, pathAAD)
}

// sealAs frames body under first and aad.
func (s *pathSealer) sealAs(dst []byte, first byte, body, aad []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.c.refresh()
	if len(s.c.aeads) == 0 {
		return dst, errors.New("no gossip key to seal a path message with")
	}
	dst = append(dst, first)
	nonce := make([]byte, pathNonceLen)
	rand.Read(nonce)
	dst = append(dst, nonce...)
	return s.c.aeads[0].Seal(dst, nonce, body, aad), nil
}

// openAs opens what sealAs framed.
func (s *pathSealer) openAs(dst []byte, first byte, b, aad []byte) ([]byte, error) {
	if len(b) < 1+pathNonceLen+pathTagLen || b[0] != first {
		return dst, errPathUnsealed
	}
	nonce, sealed := b[1:1+pathNonceLen], b[1+pathNonceLen:]
	s.mu.Lock()
	defer s.mu.Unlock()
	s.c.refresh()
	for _, g := range s.c.aeads {
		if out, err := g.Open(dst, nonce, sealed, aad); err == nil {
			return out, nil
		}
	}
	return dst, errPathUnsealed
}
