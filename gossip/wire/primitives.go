package wire

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// Primitives. Every message is built by appending to a byte slice and read
// back by a reader that checks each length against the bytes left and a
// named limit before allocating, and that remembers its first error so a
// decoder can read a whole structure and check once.

func appendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b []byte, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

func appendFloat(b []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(b, math.Float64bits(f))
}

// appendFlag appends a flags byte with bit set when on.
func appendFlag(b []byte, bit byte, on bool) []byte {
	if on {
		return append(b, bit)
	}
	return append(b, 0)
}

// Lifetimes travel as remaining milliseconds, never as absolute times, so
// a receiver's clock skew doesn't matter.
func appendTTL(b []byte, d time.Duration) []byte {
	return appendUvarint(b, uint64(max(d, 0)/time.Millisecond))
}

// appendItems appends head(b, len(items)) and then every item: a list
// with its count (head appendCount), or a message that ends in one.
func appendItems[T any](b []byte, head func([]byte, int) []byte, items []T, add func(*T, []byte) []byte) []byte {
	b = head(b, len(items))
	for i := range items {
		b = add(&items[i], b)
	}
	return b
}

func appendCount(b []byte, n int) []byte { return appendUvarint(b, uint64(n)) }

type reader struct {
	buf []byte
	err error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.buf) < 1 {
		r.fail(ErrTruncated)
		return 0
	}
	v := r.buf[0]
	r.buf = r.buf[1:]
	return v
}

// flags reads a flags byte in which only the bits of known may be set.
func (r *reader) flags(known byte) byte {
	f := r.byte()
	if f&^known != 0 {
		r.fail(ErrReserved)
		return 0
	}
	return f
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.buf)
	if n <= 0 {
		r.fail(ErrTruncated)
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

// count reads a list length, checking it against max and against the bytes
// left (each element takes at least minSize bytes), so a forged length
// can't make the decoder allocate more than the message holds.
func (r *reader) count(max, minSize int) int {
	n := r.uvarint()
	if r.err != nil {
		return 0
	}
	if n > uint64(max) {
		r.fail(fmt.Errorf("list of %d: %w (%d)", n, ErrTooLong, max))
		return 0
	}
	if n*uint64(minSize) > uint64(len(r.buf)) {
		r.fail(ErrTruncated)
		return 0
	}
	return int(n)
}

// readList reads a list and its count: nil when empty.
func readList[T any](r *reader, max, minSize int, read func(*reader) T) []T {
	n := r.count(max, minSize)
	if n == 0 {
		return nil
	}
	out := make([]T, 0, n)
	for i := 0; i < n && r.err == nil; i++ {
		out = append(out, read(r))
	}
	return out
}

func (r *reader) raw(max int) []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(max) {
		r.fail(fmt.Errorf("field of %d bytes: %w (%d)", n, ErrTooLong, max))
		return nil
	}
	if n > uint64(len(r.buf)) {
		r.fail(ErrTruncated)
		return nil
	}
	v := r.buf[:n:n]
	r.buf = r.buf[n:]
	return v
}

func (r *reader) string(max int) string { return string(r.raw(max)) }

// name reads a required, bounded string.
func (r *reader) name(max int) string {
	s := r.string(max)
	if r.err == nil && s == "" {
		r.fail(ErrEmptyField)
	}
	return s
}

// bytes returns a copy: the caller's buffer is not ours to keep.
func (r *reader) bytes(max int) []byte {
	v := r.raw(max)
	if v == nil {
		return nil
	}
	return append([]byte{}, v...)
}

func (r *reader) float() float64 {
	if r.err != nil {
		return 0
	}
	if len(r.buf) < 8 {
		r.fail(ErrTruncated)
		return 0
	}
	v := math.Float64frombits(binary.BigEndian.Uint64(r.buf))
	r.buf = r.buf[8:]
	return v
}

func (r *reader) ttl() time.Duration {
	ms := r.uvarint()
	if ms > uint64(MaxTTL/time.Millisecond) {
		return MaxTTL
	}
	return time.Duration(ms) * time.Millisecond
}

// finish reports the first error, or ErrTrailing if bytes are left over.
func (r *reader) finish() error {
	if r.err == nil && len(r.buf) != 0 {
		r.err = ErrTrailing
	}
	return r.err
}
