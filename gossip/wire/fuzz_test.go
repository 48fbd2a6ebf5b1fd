package wire

import (
	"bytes"
	"net/netip"
	"reflect"
	"testing"
)

// Each decoder must never panic, and whatever it accepts must survive an
// encode/decode round trip unchanged. Seeds live in testdata/fuzz.

// roundTrip checks that what decode accepts encodes back to an equal value.
func roundTrip[M any](t *testing.T, b []byte, decode func([]byte) (M, error), encode func(M) []byte) {
	m, err := decode(b)
	if err != nil {
		return
	}
	again, err := decode(encode(m))
	if err != nil || !reflect.DeepEqual(again, m) {
		t.Fatalf("round trip: %+v, %v; want %+v", again, err, m)
	}
}

func FuzzTableEvents(f *testing.F) {
	f.Add(sampleTableEvents().Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, b, DecodeTableEvents, func(m TableEvents) []byte { return m.Append(nil) })
	})
}

func FuzzNetworkEvents(f *testing.F) {
	f.Add(sampleNetworkEvents().Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, b, DecodeNetworkEvents, func(m NetworkEvents) []byte { return m.Append(nil) })
	})
}

func FuzzBulkSync(f *testing.F) {
	f.Add(sampleBulkSync().Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, b, DecodeBulkSync, func(m BulkSync) []byte { return m.Append(nil) })
	})
}

func FuzzDigest(f *testing.F) {
	f.Add(sampleDigest().Append(nil))
	f.Add(sampleMembersDigest().Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, b, DecodeDigest, func(m Digest) []byte { return m.Append(nil) })
	})
}

func FuzzCoordinate(f *testing.F) {
	f.Add(AppendCoordinate(nil, sampleCoordinate(), 1.7e9))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, clock, err := DecodeCoordinate(b)
		if err != nil {
			return
		}
		again, clock2, err := DecodeCoordinate(AppendCoordinate(nil, c, clock))
		if err != nil || !reflect.DeepEqual(again, c) || clock2 != clock {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, c)
		}
	})
}

func FuzzSideRequest(f *testing.F) {
	f.Add([]byte{SideRequestMsg, 0, 1, 'x'})
	f.Add([]byte{SideRequestMsg, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := ReadSideRequest(bytes.NewReader(b))
		if err != nil {
			return
		}
		again, err := AppendSideRequest(nil, req)
		if err != nil || !bytes.HasPrefix(b, again) {
			t.Fatalf("round trip: %x, %v; want a prefix of %x", again, err, b)
		}
	})
}

func FuzzSideAnswer(f *testing.F) {
	f.Add([]byte{0, 2, 'x', 'y'})
	f.Add([]byte{0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		ans, err := ReadSideAnswer(bytes.NewReader(b))
		if err != nil || len(ans) == 0 {
			return
		}
		again, err := AppendSideAnswer(nil, ans)
		if err != nil || !bytes.HasPrefix(b, again) {
			t.Fatalf("round trip: %x, %v; want a prefix of %x", again, err, b)
		}
	})
}

func FuzzPathBody(f *testing.F) {
	f.Add(AppendPathBody(nil, PathBody{Kind: ObserveRequest, ID: 7, Addr: netip.MustParseAddrPort("192.0.2.1:7946")}))
	f.Add(AppendPathBody(nil, PathBody{Kind: ObserveReply, ID: 9, Addr: netip.MustParseAddrPort("198.51.100.7:7946")}))
	f.Add(AppendPathBody(nil, PathBody{Kind: ObserveReply, ID: 9, Addr: netip.MustParseAddrPort("[2001:db8::1]:1")}))
	f.Add(AppendPathBody(nil, PathBody{Kind: ConnectBack, ID: 3, Addr: netip.MustParseAddrPort("192.0.2.1:7946"), Flags: 1}))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePathBody(b)
		if err != nil {
			return
		}
		if again := AppendPathBody(nil, p); !bytes.Equal(again, b) {
			t.Fatalf("round trip: %x, want %x", again, b)
		}
	})
}
