package keysync

import (
	"bytes"
	"testing"

	"meshnet.dev/meshnet/keydist"
)

// FuzzKeyRequest: any bytes either decode to a request that encodes back to
// the same bytes, or are refused; nothing panics.
func FuzzKeyRequest(f *testing.F) {
	f.Add(keyRequest{cluster: keydist.ClusterID{1}, node: keydist.NodePublicFromRaw32([32]byte{2}), seq: 3}.encode())
	f.Add([]byte("mnk1"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeKeyRequest(b)
		if err != nil {
			return
		}
		if !bytes.Equal(r.encode(), b) {
			t.Fatalf("decode/encode changed %x", b)
		}
	})
}
