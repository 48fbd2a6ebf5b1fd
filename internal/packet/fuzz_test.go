package packet

import (
	"encoding/binary"
	"testing"
)

// FuzzSum checks Sum against the naive sum on any bytes, from any running
// sum, at any of the eight alignments.
func FuzzSum(f *testing.F) {
	f.Add([]byte{}, uint64(0), uint8(0))
	f.Add([]byte{0xff}, uint64(0), uint8(1))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, ^uint64(0), uint8(3))
	f.Add([]byte("\x45\x00\x00\x73\x00\x00\x40\x00\x40\x11\x00\x00\xc0\xa8\x00\x01\xc0\xa8\x00\xc7"), uint64(0x1234), uint8(7))
	f.Fuzz(func(t *testing.T, data []byte, initial uint64, align uint8) {
		buf := make([]byte, len(data)+8)
		b := buf[align%8 : int(align%8)+len(data)]
		copy(b, data)
		if got, want := Fold(Sum(initial, b)), naiveSum(initial, b); got != want {
			t.Fatalf("Sum folds to %#04x, want %#04x", got, want)
		}
	})
}

// FuzzUpdateChecksum replaces a word-aligned run of data with repl and
// checks the incremental checksum against a full recomputation.
func FuzzUpdateChecksum(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0}, []byte{0xff, 0xff}, uint8(0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x12, 0x34}, []byte{0, 0, 0xff, 0xff}, uint8(1))
	f.Add([]byte("\x0a\x00\x00\x01\x0a\x00\x00\x64\x9c\x40\x00\x50"), []byte("\x0a\x00\x00\x02\x1f\x90"), uint8(2))
	f.Fuzz(func(t *testing.T, data, repl []byte, at uint8) {
		data = data[:len(data)&^1]
		repl = repl[:len(repl)&^1]
		if len(data) == 0 || len(repl) == 0 {
			return
		}
		off := 2 * (int(at) % (len(data) / 2))
		repl = repl[:min(len(repl), len(data)-off)]
		cs := Checksum(data, 0)
		if len(repl) == 2 {
			cs = UpdateChecksum16(cs, binary.BigEndian.Uint16(data[off:]), binary.BigEndian.Uint16(repl))
		} else {
			cs = UpdateChecksum(cs, data[off:off+len(repl)], repl)
		}
		copy(data[off:], repl)
		if want := Checksum(data, 0); !csumEqual(cs, want) {
			t.Fatalf("incremental %#04x, recomputed %#04x", cs, want)
		}
	})
}
