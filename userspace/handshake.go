package userspace

import (
	"errors"
	"io"
	"net"
)

// errTooLong means a handshake message did not fit its bounded buffer.
var errTooLong = errors.New("handshake message too long")

// msgReader reads handshake messages from a connection into a fixed buffer,
// which bounds them. Bytes read past a message stay buffered: for the next
// message, or, after the handshake, as the client's first payload.
type msgReader struct {
	c   net.Conn
	buf []byte
	n   int // bytes held in buf
}

// next reads until parse, given every byte held so far, stops answering
// errIncomplete; parse returns the message length, which is consumed on
// success.
func (r *msgReader) next(parse func(b []byte) (int, error)) error {
	for {
		k, err := parse(r.buf[:r.n])
		if err != errIncomplete {
			if err == nil {
				r.n = copy(r.buf, r.buf[k:r.n])
			}
			return err
		}
		if r.n == len(r.buf) {
			return errTooLong
		}
		m, err := r.c.Read(r.buf[r.n:])
		r.n += m
		if err != nil && m == 0 {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
}

// rest returns the bytes held past the last message.
func (r *msgReader) rest() []byte { return r.buf[:r.n] }
