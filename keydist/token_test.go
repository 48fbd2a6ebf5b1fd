package keydist

import (
	"encoding/base64"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func testToken(t *testing.T) (Token, AdminPrivate) {
	t.Helper()
	admin := newAdmin(t)
	return Token{
		ClusterID: testCluster(t),
		Bootstrap: []netip.AddrPort{
			netip.MustParseAddrPort("192.0.2.10:7946"),
			netip.MustParseAddrPort("[2001:db8::1]:7946"),
		},
		AdminPub: admin.Public(),
		Ring:     newRing(t),
		IssuedAt: testTime,
		Expiry:   testTime.Add(time.Hour),
	}, admin
}

func sameToken(a, b Token) bool {
	return a.ClusterID == b.ClusterID && slices.Equal(a.Bootstrap, b.Bootstrap) && a.AdminPub.Equal(b.AdminPub) &&
		a.Ring.Equal(b.Ring) && a.IssuedAt.Equal(b.IssuedAt) && a.Expiry.Equal(b.Expiry)
}

func TestTokenRoundTrip(t *testing.T) {
	tok, admin := testToken(t)
	s, err := EncodeToken(tok, admin)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s, TokenPrefix) || strings.ContainsAny(s, " \n+/=") || len(s) > 800 {
		t.Fatalf("token %q is not one copy-pasteable word", s)
	}
	got, err := ParseToken(s, testTime.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !sameToken(got, tok) {
		t.Fatalf("round trip: %v", got)
	}
	if !got.GossipKey().Equal(tok.Ring.PrimaryKey()) {
		t.Fatal("GossipKey is not the ring's primary")
	}
	// Line wrapping and surrounding whitespace from a terminal are fine.
	wrapped := "  " + s[:40] + "\n" + s[40:90] + "\r\n\t" + s[90:] + "\n"
	if _, err := ParseToken(wrapped, testTime); err != nil {
		t.Fatalf("wrapped token: %v", err)
	}
	// The maximum token fits well within MaxTokenLen.
	for len(tok.Bootstrap) < MaxBootstrapAddrs {
		tok.Bootstrap = append(tok.Bootstrap, netip.MustParseAddrPort("[2001:db8::2]:1"))
	}
	s, err = EncodeToken(tok, admin)
	if err != nil || len(s) > 800 {
		t.Fatalf("full token: %d chars, %v", len(s), err)
	}
}

func TestTokenExpired(t *testing.T) {
	tok, admin := testToken(t)
	s, err := EncodeToken(tok, admin)
	if err != nil {
		t.Fatal(err)
	}
	for _, now := range []time.Time{tok.Expiry, tok.Expiry.Add(3 * time.Hour)} {
		_, err := ParseToken(s, now)
		if !errors.Is(err, ErrExpired) {
			t.Fatalf("at %s: %v, want ErrExpired", now, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, tok.Expiry.Format(time.RFC3339)) || !strings.Contains(msg, "meshnet token") {
			t.Fatalf("expiry error %q does not say when and what to do", msg)
		}
	}
	if _, err := ParseToken(s, tok.Expiry.Add(-time.Nanosecond)); err != nil {
		t.Fatalf("a moment before expiry: %v", err)
	}
}

func TestTokenTamper(t *testing.T) {
	tok, admin := testToken(t)
	s, err := EncodeToken(tok, admin)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(s, TokenPrefix))
	if err != nil {
		t.Fatal(err)
	}
	for i := range raw {
		b := slices.Clone(raw)
		b[i] ^= 0xff
		_, err := ParseToken(TokenPrefix+base64.RawURLEncoding.EncodeToString(b), testTime)
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadSignature) {
			t.Fatalf("flipping byte %d: %v", i, err)
		}
	}
	// Every single-character edit of the text is caught too.
	for i := range s {
		for _, c := range []byte{'A', '-', '_', '!'} {
			if s[i] == c {
				continue
			}
			b := []byte(s)
			b[i] = c
			if _, err := ParseToken(string(b), testTime); err == nil {
				t.Fatalf("replacing char %d with %q went unnoticed", i, c)
			}
		}
	}
	for n := range len(s) {
		if _, err := ParseToken(s[:n], testTime); err == nil {
			t.Fatalf("truncated to %d chars accepted", n)
		}
	}
}

// A token re-signed by another key still carries the original admin key, so
// it does not verify; one that carries the new key is a different cluster's
// token, which is the trust model: the token's holder pins its admin key.
func TestTokenSignedByAnotherKey(t *testing.T) {
	tok, _ := testToken(t)
	mallory := newAdmin(t)
	if _, err := EncodeToken(tok, mallory); err == nil {
		t.Fatal("EncodeToken signed a token naming another admin key")
	}
	forged := tok
	forged.AdminPub = mallory.Public()
	s, err := EncodeToken(forged, mallory)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(s, TokenPrefix))
	adminAt := wireHeaderLen + ClusterIDLen + 16
	copy(raw[adminAt:], tok.AdminPub.k[:])
	if _, err := ParseToken(TokenPrefix+base64.RawURLEncoding.EncodeToString(raw), testTime); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("swapped admin key: %v, want ErrBadSignature", err)
	}
}

func TestTokenMalformed(t *testing.T) {
	for _, s := range []string{
		"",
		"meshnet1-",
		"meshnet2-AAAA",
		"hello",
		"meshnet1-!!!!",
		"meshnet1-AAAA",
		strings.Repeat("A", MaxTokenLen+1),
	} {
		_, err := ParseToken(s, testTime)
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseToken(%.20q): %v, want ErrMalformed", s, err)
		}
	}
	_, err := ParseToken("hello", testTime)
	if !strings.Contains(err.Error(), TokenPrefix) {
		t.Errorf("error %q does not say what a token looks like", err)
	}
}

func TestEncodeTokenRefuses(t *testing.T) {
	tok, admin := testToken(t)
	for name, mutate := range map[string]func(*Token){
		"no cluster":         func(t *Token) { t.ClusterID = ClusterID{} },
		"bad ring":           func(t *Token) { t.Ring.Keys[0] = SymmetricKey{} },
		"expiry before":      func(t *Token) { t.Expiry = t.IssuedAt },
		"unspecified addr":   func(t *Token) { t.Bootstrap = []netip.AddrPort{netip.MustParseAddrPort("0.0.0.0:1")} },
		"port 0":             func(t *Token) { t.Bootstrap = []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:0")} },
		"zone":               func(t *Token) { t.Bootstrap = []netip.AddrPort{netip.MustParseAddrPort("[fe80::1%eth0]:1")} },
		"too many bootstrap": func(t *Token) { t.Bootstrap = make([]netip.AddrPort, MaxBootstrapAddrs+1) },
	} {
		bad := tok
		bad.Bootstrap = slices.Clone(tok.Bootstrap)
		mutate(&bad)
		if _, err := EncodeToken(bad, admin); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
	// A v4-mapped address is stored as IPv4.
	tok.Bootstrap = []netip.AddrPort{netip.MustParseAddrPort("[::ffff:192.0.2.1]:7946")}
	s, err := EncodeToken(tok, admin)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseToken(s, testTime)
	if err != nil || got.Bootstrap[0] != netip.MustParseAddrPort("192.0.2.1:7946") {
		t.Fatalf("mapped address: %v %v", got.Bootstrap, err)
	}
}
