package keydist

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Every binary form keydist produces starts with a version byte and a kind
// byte. New kinds are appended; a new layout of an existing kind gets a new
// version, and decoders reject versions they do not know.
const (
	wireVersion = 1

	kindKeyRecord    = 1
	kindEvictRecord  = 2
	kindToken        = 3
	kindClusterState = 4
	kindMaterial     = 5

	wireHeaderLen = 2
)

// appender builds a binary form. Appends cannot fail.
type appender struct{ b []byte }

func (a *appender) u8(v uint8)      { a.b = append(a.b, v) }
func (a *appender) u16(v uint16)    { a.b = binary.BigEndian.AppendUint16(a.b, v) }
func (a *appender) u32(v uint32)    { a.b = binary.BigEndian.AppendUint32(a.b, v) }
func (a *appender) u64(v uint64)    { a.b = binary.BigEndian.AppendUint64(a.b, v) }
func (a *appender) bytes(v []byte)  { a.b = append(a.b, v...) }
func (a *appender) header(kind int) { a.b = append(a.b, wireVersion, byte(kind)) }

// time stores t as Unix nanoseconds; the zero time is stored as 0.
func (a *appender) time(t time.Time) {
	if t.IsZero() {
		a.u64(0)
		return
	}
	a.u64(uint64(t.UnixNano()))
}

// reader decodes a binary form. The first failure sticks: later reads return
// zero values, and err reports what went wrong first.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

// take returns the next n bytes (aliasing the input) or nil after a failure.
func (r *reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.fail("truncated %s", what)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8(what string) uint8 {
	if v := r.take(1, what); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u16(what string) uint16 {
	if v := r.take(2, what); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (r *reader) u32(what string) uint32 {
	if v := r.take(4, what); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *reader) u64(what string) uint64 {
	if v := r.take(8, what); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// time reads what appender.time wrote, as UTC.
func (r *reader) time(what string) time.Time {
	n := r.u64(what)
	if n == 0 {
		return time.Time{}
	}
	if n > 1<<63-1 {
		r.fail("%s out of range", what)
		return time.Time{}
	}
	return time.Unix(0, int64(n)).UTC()
}

// copyInto fills dst from the input.
func (r *reader) copyInto(dst []byte, what string) {
	if v := r.take(len(dst), what); v != nil {
		copy(dst, v)
	}
}

// header checks the version and kind bytes.
// recordReader reads a signed record of kind, at most max bytes long,
// past its header.
func recordReader(b []byte, max, kind int, what string) (*reader, error) {
	if len(b) > max {
		return nil, fmt.Errorf("%w: %s of %d bytes exceeds the %d-byte limit", ErrMalformed, what, len(b), max)
	}
	r := &reader{b: b}
	r.header(kind, what)
	return r, nil
}

// head reads what every signed record starts with after its header.
func (r *reader) head(id *ClusterID, seq *uint64, at *time.Time) {
	r.copyInto(id[:], "cluster id")
	*seq = r.u64("sequence number")
	*at = r.time("issue time")
}

func (r *reader) header(kind int, what string) {
	v := r.take(wireHeaderLen, what+" header")
	if v == nil {
		return
	}
	if v[0] != wireVersion {
		r.fail("%s version %d is not supported (this meshnet reads version %d); upgrade meshnet", what, v[0], wireVersion)
		return
	}
	if int(v[1]) != kind {
		r.fail("not a %s (kind %d)", what, v[1])
	}
}

// end fails if input is left over: every form has exactly one encoding.
func (r *reader) end(what string) error {
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d trailing bytes after %s", len(r.b), what)
	}
	return r.err
}
