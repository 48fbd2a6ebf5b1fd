package wire

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sampleTableEvents() TableEvents {
	return TableEvents{
		Sender:  "mngsp-a",
		Network: "blue",
		Events: []TableEvent{
			{Table: "ep", Key: "10.0.0.1", Owner: "mngsp-a", LTime: 7, Value: []byte("02:42:ac:11:00:02")},
			{Table: "ep", Key: "10.0.0.2", Owner: "mngsp-b", LTime: 1 << 40, Deleted: true, TTL: 90 * time.Second},
			{Table: "svc", Key: "ünïcode", Owner: "mngsp-c", LTime: 1, Value: []byte{}},
		},
	}
}

func sampleNetworkEvents() NetworkEvents {
	return NetworkEvents{
		Sender: "mngsp-a",
		Records: []NetRecord{
			{Node: "mngsp-a", Network: "blue", LTime: 3},
			{Node: "mngsp-b", Network: "", LTime: 9, Leave: true, TTL: time.Minute},
		},
	}
}

func sampleBulkSync() BulkSync {
	return BulkSync{
		Sender:  "mngsp-a",
		Network: "blue",
		Respond: true,
		Records: sampleNetworkEvents().Records,
		Entries: sampleTableEvents().Events,
	}
}

func sampleDigest() Digest {
	return Digest{Sender: "mngsp-a", Network: "blue", Summary: Summary{Count: 3, Sum: 1<<64 - 1}}
}

func TestCodecRoundTrip(t *testing.T) {
	te := sampleTableEvents()
	gotTE, err := DecodeTableEvents(te.Append(nil))
	if err != nil || !reflect.DeepEqual(gotTE, te) {
		t.Errorf("table events: got %+v, %v; want %+v", gotTE, err, te)
	}
	ne := sampleNetworkEvents()
	gotNE, err := DecodeNetworkEvents(ne.Append(nil))
	if err != nil || !reflect.DeepEqual(gotNE, ne) {
		t.Errorf("network events: got %+v, %v; want %+v", gotNE, err, ne)
	}
	bs := sampleBulkSync()
	gotBS, err := DecodeBulkSync(bs.Append(nil))
	if err != nil || !reflect.DeepEqual(gotBS, bs) {
		t.Errorf("bulk sync: got %+v, %v; want %+v", gotBS, err, bs)
	}
	for _, dg := range []Digest{sampleDigest(), {Sender: "mngsp-b", Members: true}, {Sender: "mngsp-b", Network: ""}} {
		got, err := DecodeDigest(dg.Append(nil))
		if err != nil || got != dg {
			t.Errorf("digest: got %+v, %v; want %+v", got, err, dg)
		}
	}
}

// A digest is a packet: its size is bounded, and a membership digest
// names no network.
func TestDigestCodecRejects(t *testing.T) {
	longest := Digest{Sender: strings.Repeat("s", MaxNodeNameLen), Network: strings.Repeat("n", MaxNetworkIDLen), Summary: Summary{1<<64 - 1, 1<<64 - 1}}
	if b := longest.Append(nil); len(b) > MaxDigestSize {
		t.Errorf("longest digest is %d bytes, over MaxDigestSize %d", len(b), MaxDigestSize)
	}
	for _, tc := range []struct {
		name string
		buf  []byte
		want error
	}{
		{"members with network", Digest{Sender: "s", Network: "blue", Members: true}.Append(nil), ErrDigestScope},
		{"reserved flag", func() []byte { b := Digest{Sender: "s"}.Append(nil); b[len(b)-3] = 0x80; return b }(), ErrReserved},
		{"oversized", append(longest.Append(nil), make([]byte, 200)...), ErrOversized},
		{"empty sender", Digest{Network: "blue"}.Append(nil), ErrEmptyField},
		{"wrong type for decoder", sampleNetworkEvents().Append(nil), ErrType},
	} {
		if _, err := DecodeDigest(tc.buf); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

// Every strict prefix of a valid message is an error, never a panic or a
// partial result.
func TestCodecTruncated(t *testing.T) {
	for name, tc := range map[string]struct {
		buf    []byte
		decode func([]byte) error
	}{
		"table":   {sampleTableEvents().Append(nil), func(b []byte) error { _, err := DecodeTableEvents(b); return err }},
		"network": {sampleNetworkEvents().Append(nil), func(b []byte) error { _, err := DecodeNetworkEvents(b); return err }},
		"bulk":    {sampleBulkSync().Append(nil), func(b []byte) error { _, err := DecodeBulkSync(b); return err }},
		"digest":  {sampleDigest().Append(nil), func(b []byte) error { _, err := DecodeDigest(b); return err }},
	} {
		for i := range len(tc.buf) {
			if err := tc.decode(tc.buf[:i]); err == nil {
				t.Errorf("%s: prefix of %d/%d bytes decoded without error", name, i, len(tc.buf))
			}
		}
		if err := tc.decode(append(bytes.Clone(tc.buf), 0)); !errors.Is(err, ErrTrailing) {
			t.Errorf("%s: trailing byte: got %v, want ErrTrailing", name, err)
		}
	}
}

func TestCodecRejects(t *testing.T) {
	valid := sampleTableEvents().Append(nil)
	withByte := func(i int, v byte) []byte { b := bytes.Clone(valid); b[i] = v; return b }
	long := sampleTableEvents()
	long.Events[0].Key = strings.Repeat("k", MaxKeyLen+1)
	bigValue := sampleTableEvents()
	bigValue.Events[0].Value = make([]byte, MaxValueLen+1)
	emptyOwner := sampleTableEvents()
	emptyOwner.Events[0].Owner = ""
	for _, tc := range []struct {
		name string
		buf  []byte
		want error
	}{
		{"empty", nil, ErrShortHeader},
		{"version 0", withByte(0, 0), ErrVersion},
		{"version 2", withByte(0, 2), ErrVersion},
		{"unknown type", withByte(1, 200), ErrType},
		{"oversized", append(bytes.Clone(valid), make([]byte, MaxMessageSize)...), ErrOversized},
		{"key too long", long.Append(nil), ErrTooLong},
		{"value too long", bigValue.Append(nil), ErrTooLong},
		{"empty owner", emptyOwner.Append(nil), ErrEmptyField},
		{"wrong type for decoder", sampleNetworkEvents().Append(nil), ErrType},
	} {
		if _, err := DecodeTableEvents(tc.buf); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestCodecReservedFlags(t *testing.T) {
	m := TableEvents{Sender: "s", Network: "n", Events: []TableEvent{{Table: "t", Key: "k", Owner: "o", LTime: 1}}}
	b := m.Append(nil)
	// The flags byte sits right before the value length (last two bytes).
	b[len(b)-2] = 0x80
	if _, err := DecodeTableEvents(b); !errors.Is(err, ErrReserved) {
		t.Errorf("got %v, want ErrReserved", err)
	}
}

// A count that promises more elements than there are bytes must fail
// before allocating for them.
func TestCodecForgedCount(t *testing.T) {
	b := appendHeader(nil, TypeTableEvents)
	b = appendString(b, "s")
	b = appendString(b, "n")
	b = appendUvarint(b, MaxEventsPerMessage)
	allocs := testing.AllocsPerRun(10, func() {
		if _, err := DecodeTableEvents(b); !errors.Is(err, ErrTruncated) {
			t.Fatalf("got %v, want ErrTruncated", err)
		}
	})
	if allocs > 5 {
		t.Errorf("forged count cost %v allocations", allocs)
	}
}

func TestTTLCapped(t *testing.T) {
	m := NetworkEvents{Sender: "s", Records: []NetRecord{{Node: "n", Network: "x", LTime: 1, Leave: true, TTL: 100 * MaxTTL}}}
	got, err := DecodeNetworkEvents(m.Append(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got.Records[0].TTL != MaxTTL {
		t.Errorf("TTL %v, want capped at %v", got.Records[0].TTL, MaxTTL)
	}
}

func sampleMembersDigest() Digest {
	return Digest{Sender: "mngsp-b", Members: true, Summary: Summary{Count: 300, Sum: 42}}
}
