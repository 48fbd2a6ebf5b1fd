package gossip

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sampleTableEvents() tableEventsMsg {
	return tableEventsMsg{
		Sender:  "mngsp-a",
		Network: "blue",
		Events: []tableEvent{
			{Table: "ep", Key: "10.0.0.1", Owner: "mngsp-a", LTime: 7, Value: []byte("02:42:ac:11:00:02")},
			{Table: "ep", Key: "10.0.0.2", Owner: "mngsp-b", LTime: 1 << 40, Deleted: true, TTL: 90 * time.Second},
			{Table: "svc", Key: "ünïcode", Owner: "mngsp-c", LTime: 1, Value: []byte{}},
		},
	}
}

func sampleNetworkEvents() networkEventsMsg {
	return networkEventsMsg{
		Sender: "mngsp-a",
		Records: []netRecord{
			{Node: "mngsp-a", Network: "blue", LTime: 3},
			{Node: "mngsp-b", Network: ClusterScope, LTime: 9, Leave: true, TTL: time.Minute},
		},
	}
}

func sampleBulkSync() bulkSyncMsg {
	return bulkSyncMsg{
		Sender:  "mngsp-a",
		Network: "blue",
		Respond: true,
		Records: sampleNetworkEvents().Records,
		Entries: sampleTableEvents().Events,
	}
}

func sampleDigest() digestMsg {
	return digestMsg{Sender: "mngsp-a", Network: "blue", Digest: digest{count: 3, sum: 1<<64 - 1}}
}

func TestCodecRoundTrip(t *testing.T) {
	te := sampleTableEvents()
	gotTE, err := decodeTableEvents(te.encode())
	if err != nil || !reflect.DeepEqual(gotTE, te) {
		t.Errorf("table events: got %+v, %v; want %+v", gotTE, err, te)
	}
	ne := sampleNetworkEvents()
	gotNE, err := decodeNetworkEvents(ne.encode())
	if err != nil || !reflect.DeepEqual(gotNE, ne) {
		t.Errorf("network events: got %+v, %v; want %+v", gotNE, err, ne)
	}
	bs := sampleBulkSync()
	gotBS, err := decodeBulkSync(bs.encode())
	if err != nil || !reflect.DeepEqual(gotBS, bs) {
		t.Errorf("bulk sync: got %+v, %v; want %+v", gotBS, err, bs)
	}
	for _, dg := range []digestMsg{sampleDigest(), {Sender: "mngsp-b", Members: true}, {Sender: "mngsp-b", Network: ClusterScope}} {
		got, err := decodeDigest(dg.encode())
		if err != nil || got != dg {
			t.Errorf("digest: got %+v, %v; want %+v", got, err, dg)
		}
	}
}

// A digest is a packet: its size is bounded, and a membership digest
// names no network.
func TestDigestCodecRejects(t *testing.T) {
	longest := digestMsg{Sender: strings.Repeat("s", MaxNodeNameLen), Network: strings.Repeat("n", MaxNetworkIDLen), Digest: digest{1<<64 - 1, 1<<64 - 1}}
	if b := longest.encode(); len(b) > maxDigestMsgSize {
		t.Errorf("longest digest is %d bytes, over maxDigestMsgSize %d", len(b), maxDigestMsgSize)
	}
	for _, tc := range []struct {
		name string
		buf  []byte
		want error
	}{
		{"members with network", digestMsg{Sender: "s", Network: "blue", Members: true}.encode(), errDigestScope},
		{"reserved flag", func() []byte { b := digestMsg{Sender: "s"}.encode(); b[len(b)-3] = 0x80; return b }(), errReserved},
		{"oversized", append(longest.encode(), make([]byte, 200)...), errOversized},
		{"empty sender", digestMsg{Network: "blue"}.encode(), errEmptyField},
		{"wrong type for decoder", sampleNetworkEvents().encode(), errType},
	} {
		if _, err := decodeDigest(tc.buf); !errors.Is(err, tc.want) {
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
		"table":   {sampleTableEvents().encode(), func(b []byte) error { _, err := decodeTableEvents(b); return err }},
		"network": {sampleNetworkEvents().encode(), func(b []byte) error { _, err := decodeNetworkEvents(b); return err }},
		"bulk":    {sampleBulkSync().encode(), func(b []byte) error { _, err := decodeBulkSync(b); return err }},
		"digest":  {sampleDigest().encode(), func(b []byte) error { _, err := decodeDigest(b); return err }},
	} {
		for i := range len(tc.buf) {
			if err := tc.decode(tc.buf[:i]); err == nil {
				t.Errorf("%s: prefix of %d/%d bytes decoded without error", name, i, len(tc.buf))
			}
		}
		if err := tc.decode(append(bytes.Clone(tc.buf), 0)); !errors.Is(err, errTrailing) {
			t.Errorf("%s: trailing byte: got %v, want errTrailing", name, err)
		}
	}
}

func TestCodecRejects(t *testing.T) {
	valid := sampleTableEvents().encode()
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
		{"empty", nil, errShortHeader},
		{"version 0", withByte(0, 0), errVersion},
		{"version 2", withByte(0, 2), errVersion},
		{"unknown type", withByte(1, 200), errType},
		{"oversized", append(bytes.Clone(valid), make([]byte, MaxMessageSize)...), errOversized},
		{"key too long", long.encode(), errTooLong},
		{"value too long", bigValue.encode(), errTooLong},
		{"empty owner", emptyOwner.encode(), errEmptyField},
		{"wrong type for decoder", sampleNetworkEvents().encode(), errType},
	} {
		if _, err := decodeTableEvents(tc.buf); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestCodecReservedFlags(t *testing.T) {
	m := tableEventsMsg{Sender: "s", Network: "n", Events: []tableEvent{{Table: "t", Key: "k", Owner: "o", LTime: 1}}}
	b := m.encode()
	// The flags byte sits right before the value length (last two bytes).
	b[len(b)-2] = 0x80
	if _, err := decodeTableEvents(b); !errors.Is(err, errReserved) {
		t.Errorf("got %v, want errReserved", err)
	}
}

// A count that promises more elements than there are bytes must fail
// before allocating for them.
func TestCodecForgedCount(t *testing.T) {
	b := appendHeader(nil, msgTableEvents)
	b = appendString(b, "s")
	b = appendString(b, "n")
	b = appendUvarint(b, MaxEventsPerMessage)
	allocs := testing.AllocsPerRun(10, func() {
		if _, err := decodeTableEvents(b); !errors.Is(err, errTruncated) {
			t.Fatalf("got %v, want errTruncated", err)
		}
	})
	if allocs > 5 {
		t.Errorf("forged count cost %v allocations", allocs)
	}
}

func TestTTLCapped(t *testing.T) {
	m := networkEventsMsg{Sender: "s", Records: []netRecord{{Node: "n", Network: "x", LTime: 1, Leave: true, TTL: 100 * maxTTL}}}
	got, err := decodeNetworkEvents(m.encode())
	if err != nil {
		t.Fatal(err)
	}
	if got.Records[0].TTL != maxTTL {
		t.Errorf("TTL %v, want capped at %v", got.Records[0].TTL, maxTTL)
	}
}

func sampleMembersDigest() digestMsg {
	return digestMsg{Sender: "mngsp-b", Members: true, Digest: digest{count: 300, sum: 42}}
}
