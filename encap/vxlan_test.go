package encap

import (
	"bytes"
	"errors"
	"testing"

	"meshnet.dev/meshnet/internal/testenv"
)

func TestEncodeParseRoundTrip(t *testing.T) {
	for _, vni := range []uint32{1, 42, 0x123456, MaxVNI - 1, MaxVNI} {
		b := make([]byte, HeaderLen+4)
		copy(b[HeaderLen:], "abcd")
		Encode(b, vni)
		h, err := Parse(b)
		if err != nil {
			t.Fatalf("Parse(Encode(%d)): %v", vni, err)
		}
		if h.VNI != vni {
			t.Errorf("VNI %d came back as %d", vni, h.VNI)
		}
		if string(b[HeaderLen:]) != "abcd" {
			t.Errorf("Encode(%d) touched the frame after the header: %q", vni, b[HeaderLen:])
		}
	}
}

func TestEncodeWireBytes(t *testing.T) {
	b := bytes.Repeat([]byte{0xff}, HeaderLen)
	Encode(b, 0x0a0b0c)
	// Flags with only I set, reserved bytes zero, VNI big-endian, last
	// reserved byte zero (RFC 7348, section 5).
	want := []byte{0x08, 0, 0, 0, 0x0a, 0x0b, 0x0c, 0}
	if !bytes.Equal(b, want) {
		t.Fatalf("Encode wrote % x, want % x", b, want)
	}
}

func TestParseRequiresIFlag(t *testing.T) {
	b := []byte{0xf7, 0, 0, 0, 0, 0, 42, 0} // every flag but I
	if _, err := Parse(b); !errors.Is(err, ErrNoIFlag) {
		t.Fatalf("Parse without the I flag: err = %v, want ErrNoIFlag", err)
	}
}

func TestParseIgnoresReservedBits(t *testing.T) {
	b := []byte{0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x2a, 0xff}
	h, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse with reserved bits set: %v", err)
	}
	if h.VNI != 42 {
		t.Fatalf("VNI = %d, want 42 (reserved bits must not leak into it)", h.VNI)
	}
}

func TestParseShort(t *testing.T) {
	full := make([]byte, HeaderLen)
	Encode(full, 7)
	for n := 0; n < HeaderLen; n++ {
		if _, err := Parse(full[:n]); !errors.Is(err, ErrShort) {
			t.Errorf("Parse of %d bytes: err = %v, want ErrShort", n, err)
		}
	}
	if _, err := Parse(nil); !errors.Is(err, ErrShort) {
		t.Errorf("Parse(nil): err = %v, want ErrShort", err)
	}
}

func TestEncodeShortBufferPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Encode into 7 bytes did not panic; it must not write a partial header")
		}
	}()
	Encode(make([]byte, HeaderLen-1), 1)
}

func TestValidVNI(t *testing.T) {
	for vni, want := range map[uint32]bool{0: false, 1: true, 42: true, MaxVNI: true, MaxVNI + 1: false, 1 << 31: false} {
		if got := ValidVNI(vni); got != want {
			t.Errorf("ValidVNI(%d) = %v, want %v", vni, got, want)
		}
	}
}

func TestCodecAllocs(t *testing.T) {
	testenv.SkipAllocsUnderRace(t)
	b := make([]byte, HeaderLen)
	allocs := testing.AllocsPerRun(100, func() {
		Encode(b, 42)
		if _, err := Parse(b); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Encode+Parse allocate %v times per call, want 0", allocs)
	}
}

func BenchmarkEncode(b *testing.B) {
	buf := make([]byte, HeaderLen)
	b.ReportAllocs()
	b.SetBytes(HeaderLen)
	for i := 0; b.Loop(); i++ {
		Encode(buf, uint32(i)&MaxVNI)
	}
}

func BenchmarkParse(b *testing.B) {
	buf := make([]byte, HeaderLen)
	Encode(buf, 42)
	b.ReportAllocs()
	b.SetBytes(HeaderLen)
	for b.Loop() {
		if _, err := Parse(buf); err != nil {
			b.Fatal(err)
		}
	}
}
