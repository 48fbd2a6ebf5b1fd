package wire

import (
	"bytes"
	"errors"
	"testing"
)

func TestSideFraming(t *testing.T) {
	req, err := AppendSideRequest(nil, []byte("abc"))
	if want := []byte{0xE5, 0, 3, 'a', 'b', 'c'}; err != nil || !bytes.Equal(req, want) {
		t.Fatalf("request %x, %v; want %x", req, err, want)
	}
	if got, err := ReadSideRequest(bytes.NewReader(req)); err != nil || string(got) != "abc" {
		t.Errorf("read request %q, %v", got, err)
	}
	ans, err := AppendSideAnswer(nil, []byte("xy"))
	if want := []byte{0, 2, 'x', 'y'}; err != nil || !bytes.Equal(ans, want) {
		t.Fatalf("answer %x, %v; want %x", ans, err, want)
	}
	if got, err := ReadSideAnswer(bytes.NewReader(ans)); err != nil || string(got) != "xy" {
		t.Errorf("read answer %q, %v", got, err)
	}
	// No answer, or an empty one, is not an error.
	for _, b := range [][]byte{nil, {0, 0}} {
		if got, err := ReadSideAnswer(bytes.NewReader(b)); got != nil || err != nil {
			t.Errorf("answer %x: %q, %v; want nothing", b, got, err)
		}
	}
}

func TestSideFramingRejects(t *testing.T) {
	if _, err := AppendSideRequest(nil, make([]byte, MaxSideRequest+1)); !errors.Is(err, ErrTooLong) {
		t.Errorf("long request: %v", err)
	}
	if _, err := AppendSideAnswer(nil, make([]byte, MaxSideAnswer+1)); !errors.Is(err, ErrTooLong) {
		t.Errorf("long answer: %v", err)
	}
	for name, tc := range map[string]struct {
		buf  []byte
		read func([]byte) error
		want error
	}{
		"request claims too much": {[]byte{0xE5, 0xff, 0xff}, readRequest, ErrTooLong},
		"request cut short":       {[]byte{0xE5, 0, 3, 'a'}, readRequest, ErrTruncated},
		"request header cut":      {[]byte{0xE5, 0}, readRequest, ErrTruncated},
		"not a side request":      {[]byte{1, 0, 0}, readRequest, ErrType},
		"answer claims too much":  {[]byte{0xff, 0xff}, readAnswer, ErrTooLong},
		"answer cut short":        {[]byte{0, 3, 'a'}, readAnswer, ErrTruncated},
		"answer header cut":       {[]byte{0}, readAnswer, ErrTruncated},
	} {
		if err := tc.read(tc.buf); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", name, err, tc.want)
		}
	}
}

func readRequest(b []byte) error { _, err := ReadSideRequest(bytes.NewReader(b)); return err }
func readAnswer(b []byte) error  { _, err := ReadSideAnswer(bytes.NewReader(b)); return err }
