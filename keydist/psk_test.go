package keydist

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParsePresharedKey(t *testing.T) {
	raw := bytes.Repeat([]byte{0x5a}, 32)
	text := base64.StdEncoding.EncodeToString(raw)
	k, err := ParsePresharedKey("  " + text + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k.Bytes(), raw) {
		t.Fatal("parsed key has other bytes")
	}
	if s := fmt.Sprintf("%v %s %#v", k, k, k); strings.Contains(s, text) || strings.Contains(s, "5a5a") {
		t.Fatalf("a preshared key prints its bytes: %s", s)
	}
	for _, bad := range []string{"", "not base64!", base64.StdEncoding.EncodeToString(raw[:31]),
		base64.StdEncoding.EncodeToString(make([]byte, 32))} {
		_, err := ParsePresharedKey(bad)
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v, want ErrMalformed", bad, err)
		}
		if bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("the error quotes its input: %v", err)
		}
	}
}

func TestPresharedKeyFromBytes(t *testing.T) {
	if _, err := PresharedKeyFromBytes(make([]byte, 31)); err == nil {
		t.Fatal("31 bytes accepted")
	}
	k, err := PresharedKeyFromBytes(bytes.Repeat([]byte{1}, 32))
	if err != nil || k.IsZero() {
		t.Fatalf("%v %v", k, err)
	}
}
