package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// A side request is one request and one answer on a TCP stream to the
// gossip port, outside memberlist and outside gossip encryption:
//
//	request:  0xE5 | length u16 | request bytes
//	answer:   length u16 | answer bytes
//
// 0xE5 (SideRequestMsg) is neither a memberlist message type nor its label
// marker, so a stream can be told apart from memberlist's by its first
// byte. An empty answer means the peer had nothing to say.
const SideRequestMsg = 0xE5

// AppendSideRequest appends the framed request req to b.
func AppendSideRequest(b, req []byte) ([]byte, error) {
	if len(req) > MaxSideRequest {
		return b, fmt.Errorf("side request of %d bytes: %w (%d)", len(req), ErrTooLong, MaxSideRequest)
	}
	b = binary.BigEndian.AppendUint16(append(b, SideRequestMsg), uint16(len(req)))
	return append(b, req...), nil
}

// ReadSideRequest reads one framed request from r.
func ReadSideRequest(r io.Reader) ([]byte, error) {
	var hdr [3]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("side request header: %w", truncated(err))
	}
	if hdr[0] != SideRequestMsg {
		return nil, fmt.Errorf("%w %#x for a side request", ErrType, hdr[0])
	}
	return readSideBody(r, int(binary.BigEndian.Uint16(hdr[1:])), MaxSideRequest)
}

// AppendSideAnswer appends the framed answer ans to b.
func AppendSideAnswer(b, ans []byte) ([]byte, error) {
	if len(ans) > MaxSideAnswer {
		return b, fmt.Errorf("side answer of %d bytes: %w (%d)", len(ans), ErrTooLong, MaxSideAnswer)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(ans)))
	return append(b, ans...), nil
}

// ReadSideAnswer reads one framed answer from r. It returns nil and no
// error when the answer is empty or the peer closed the stream without
// answering.
func ReadSideAnswer(r io.Reader) ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, fmt.Errorf("side answer header: %w", truncated(err))
	}
	return readSideBody(r, int(binary.BigEndian.Uint16(hdr[:])), MaxSideAnswer)
}

func readSideBody(r io.Reader, n, max int) ([]byte, error) {
	if n > max {
		return nil, fmt.Errorf("side message of %d bytes: %w (%d)", n, ErrTooLong, max)
	}
	if n == 0 {
		return nil, nil
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("side message body: %w", truncated(err))
	}
	return b, nil
}

// truncated turns a short read into ErrTruncated, keeping other errors
// (timeouts, resets) as they are.
func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrTruncated
	}
	return err
}
