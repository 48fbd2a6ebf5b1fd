package encap

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParse checks that Parse never panics, accepts exactly the buffers with
// a full header and the I flag, and agrees with Encode.
func FuzzParse(f *testing.F) {
	good := make([]byte, HeaderLen+14)
	Encode(good, 42)
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{0x08, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := Parse(b)
		switch {
		case len(b) < HeaderLen:
			if !errors.Is(err, ErrShort) {
				t.Fatalf("Parse(% x) = %v, %v; want ErrShort", b, h, err)
			}
			return
		case b[0]&0x08 == 0:
			if !errors.Is(err, ErrNoIFlag) {
				t.Fatalf("Parse(% x) = %v, %v; want ErrNoIFlag", b, h, err)
			}
			return
		case err != nil:
			t.Fatalf("Parse(% x): unexpected error %v", b, err)
		}
		if h.VNI > MaxVNI {
			t.Fatalf("Parse(% x) gave VNI %d > MaxVNI", b, h.VNI)
		}
		// Re-encoding gives the canonical header: same VNI bytes, reserved
		// fields cleared.
		re := make([]byte, HeaderLen)
		Encode(re, h.VNI)
		if !bytes.Equal(re[4:7], b[4:7]) || re[0] != 0x08 {
			t.Fatalf("Encode(%d) = % x does not match parsed % x", h.VNI, re, b[:HeaderLen])
		}
	})
}
