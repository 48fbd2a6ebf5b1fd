package gossip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Wire primitives. Every message is built by appending to a byte slice and
// read back by a reader that checks each length against the bytes left and
// a named limit before allocating, and that remembers its first error so a
// decoder can read a whole structure and check once.

var (
	errTruncated = errors.New("message truncated")
	errTooLong   = errors.New("field exceeds its limit")
	errTrailing  = errors.New("trailing bytes after message")
	errReserved  = errors.New("reserved flag bits set")
)

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
		r.fail(errTruncated)
		return 0
	}
	v := r.buf[0]
	r.buf = r.buf[1:]
	return v
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.buf)
	if n <= 0 {
		r.fail(errTruncated)
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
		r.fail(fmt.Errorf("list of %d: %w (%d)", n, errTooLong, max))
		return 0
	}
	if n*uint64(minSize) > uint64(len(r.buf)) {
		r.fail(errTruncated)
		return 0
	}
	return int(n)
}

func (r *reader) raw(max int) []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(max) {
		r.fail(fmt.Errorf("field of %d bytes: %w (%d)", n, errTooLong, max))
		return nil
	}
	if n > uint64(len(r.buf)) {
		r.fail(errTruncated)
		return nil
	}
	v := r.buf[:n:n]
	r.buf = r.buf[n:]
	return v
}

func (r *reader) string(max int) string { return string(r.raw(max)) }

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
		r.fail(errTruncated)
		return 0
	}
	v := math.Float64frombits(binary.BigEndian.Uint64(r.buf))
	r.buf = r.buf[8:]
	return v
}

// finish reports the first error, or errTrailing if bytes are left over.
func (r *reader) finish() error {
	if r.err == nil && len(r.buf) != 0 {
		r.err = errTrailing
	}
	return r.err
}
