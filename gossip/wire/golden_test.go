package wire

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"testing"
	"time"
)

// The wire format is fixed: nodes running older and newer code exchange
// these bytes, so any change to them is a new message type or version,
// never an edit. Each sample must encode to exactly its golden bytes, and
// the golden bytes must decode to the sample.
func TestWireGolden(t *testing.T) {
	for _, tc := range []struct {
		name   string
		golden string
		encode func() []byte
		decode func([]byte) (any, error)
		want   any
	}{
		{
			name: "table-events",
			golden: "0101076d6e6773702d6104626c7565030265700831302e302e302e31076d6e6773702d61070011" +
				"30323a34323a61633a31313a30303a30320265700831302e302e302e32076d6e6773702d6280" +
				"80808080200190bf050373766309c3bc6ec3af636f6465076d6e6773702d63010000",
			encode: func() []byte { return sampleTableEvents().Append(nil) },
			decode: func(b []byte) (any, error) { return DecodeTableEvents(b) },
			want:   sampleTableEvents(),
		},
		{
			name:   "network-events",
			golden: "0102076d6e6773702d6102076d6e6773702d6104626c75650300076d6e6773702d62000901e0d403",
			encode: func() []byte { return sampleNetworkEvents().Append(nil) },
			decode: func(b []byte) (any, error) { return DecodeNetworkEvents(b) },
			want:   sampleNetworkEvents(),
		},
		{
			name: "bulk-sync",
			golden: "0103076d6e6773702d6104626c75650102076d6e6773702d6104626c75650300076d6e677370" +
				"2d62000901e0d403030265700831302e302e302e31076d6e6773702d6107001130323a34323a" +
				"61633a31313a30303a30320265700831302e302e302e32076d6e6773702d6280808080802001" +
				"90bf050373766309c3bc6ec3af636f6465076d6e6773702d63010000",
			encode: func() []byte { return sampleBulkSync().Append(nil) },
			decode: func(b []byte) (any, error) { return DecodeBulkSync(b) },
			want:   sampleBulkSync(),
		},
		{
			name:   "digest of a network",
			golden: "0104076d6e6773702d6104626c75650003ffffffffffffffffff01",
			encode: func() []byte { return sampleDigest().Append(nil) },
			decode: func(b []byte) (any, error) { return DecodeDigest(b) },
			want:   sampleDigest(),
		},
		{
			name:   "digest of membership",
			golden: "0104076d6e6773702d620001ac022a",
			encode: func() []byte { return sampleMembersDigest().Append(nil) },
			decode: func(b []byte) (any, error) { return DecodeDigest(b) },
			want:   sampleMembersDigest(),
		},
		{
			name: "coordinate",
			golden: "020800000000000000003f50624dd2f1a9fc3f60624dd2f1a9fc3f689374bc6a7efa3f70624d" +
				"d2f1a9fc3f747ae147ae147b3f789374bc6a7efa3f7cac083126e9793ff8000000000000bf2a" +
				"36e2eb1c432d3ee4f8b588e368f141d954fc40000000",
			encode: func() []byte { return AppendCoordinate(nil, sampleCoordinate(), 1.7e9) },
			decode: func(b []byte) (any, error) {
				c, clock, err := DecodeCoordinate(b)
				return [2]any{c, clock}, err
			},
			want: [2]any{sampleCoordinate(), 1.7e9},
		},
	} {
		golden, err := hex.DecodeString(tc.golden)
		if err != nil {
			t.Fatalf("%s: bad golden hex: %v", tc.name, err)
		}
		if got := tc.encode(); !bytes.Equal(got, golden) {
			t.Errorf("%s: encoding changed:\n got  %x\n want %x", tc.name, got, golden)
		}
		if got, err := tc.decode(golden); err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: golden bytes decode to %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
}

// Digests are compared across nodes, so the item hashes are part of the
// wire format too: every node must compute the same sum for the same items.
func TestDigestHashGolden(t *testing.T) {
	record := RecordHash(&NetRecord{Node: "mngsp-a", Network: "blue", LTime: 3, Leave: true, TTL: time.Minute})
	entry := EntryHash(&TableEvent{Table: "ep", Key: "k", Owner: "mngsp-a", LTime: 7, Value: []byte("v")})
	member := MemberHash("mngsp-a", "10.0.0.1:7946", []byte("meta"), 1)
	for _, tc := range []struct {
		name      string
		got, want Hash
	}{
		{"record", record, 0xdbed062ee80edf39},
		{"entry", entry, 0xc59a2ce4e698ba37},
		{"member", member, 0xec69aeabcda5be0f},
	} {
		if tc.got != tc.want {
			t.Errorf("%s hash %#x, want %#x", tc.name, uint64(tc.got), uint64(tc.want))
		}
	}
	var s Summary
	s.Add(record)
	s.Add(entry)
	if want := (Summary{Count: 2, Sum: 0xa1bd76e753a293b6}); s != want {
		t.Errorf("summary %+v, want %+v", s, want)
	}
	// Lifetimes are left out: they differ by transit time.
	if EntryHash(&TableEvent{Table: "t", Key: "k", Owner: "o", Deleted: true, TTL: time.Second}) !=
		EntryHash(&TableEvent{Table: "t", Key: "k", Owner: "o", Deleted: true, TTL: time.Hour}) {
		t.Error("a tombstone's TTL changed its hash")
	}
}
