package keydist

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"
)

// Join token limits and text form.
const (
	// TokenPrefix starts every join token; the digit is the token format.
	TokenPrefix = "meshnet1-"
	// MaxBootstrapAddrs bounds the bootstrap addresses in a token.
	MaxBootstrapAddrs = 16
	// MaxTokenLen bounds the token text accepted by ParseToken, whitespace
	// included (a full token is under 800 characters).
	MaxTokenLen = 4096
)

// Token layout (big endian), then base64url without padding after TokenPrefix:
//
//	version u8 | kind u8 (3) | cluster [16] | issued at u64 (Unix ns) | expiry u64 (Unix ns) |
//	admin public key [32] | ring primary u8 | ring keys 3 × [32] |
//	bootstrap count u8 | count × ( family u8 (4|6) | address [4|16] | port u16 ) |
//	signature [64]
//
// The signature is Ed25519ctx (context sigContextToken) over every byte
// before it, made with the admin key the token carries.
const tokenFixedLen = wireHeaderLen + ClusterIDLen + 8 + 8 + 32 + 1 + RingSize*SymmetricKeyLen + 1 + SignatureLen

// Token is what a node needs to join a cluster. It carries the gossip
// keyring, so it is a secret: String and the other printed forms are
// redacted.
//
// A token is signed by the admin key it carries, so the signature proves the
// token is intact, not who made it. The joining node pins AdminPub and from
// then on accepts records signed by that key only.
type Token struct {
	ClusterID ClusterID
	// Bootstrap lists gossip addresses of existing members to contact.
	Bootstrap []netip.AddrPort
	// AdminPub is the key that signs this token and every later record.
	AdminPub AdminPublic
	// Ring is the whole current gossip keyring, so a node that joins in the
	// middle of a rotation still reads every member.
	Ring GossipKeyring
	// IssuedAt is when the token (and so its Ring) was issued.
	IssuedAt time.Time
	// Expiry is when the token stops being accepted.
	Expiry time.Time
}

// GossipKey returns the key members currently send gossip with.
func (t Token) GossipKey() SymmetricKey { return t.Ring.PrimaryKey() }

// String describes the token without its secret.
func (t Token) String() string {
	return fmt.Sprintf("meshnet join token (cluster %s, %s, expires %s, keys %s)",
		t.ClusterID, t.AdminPub, t.Expiry.UTC().Format(time.RFC3339), redactedSuffix)
}

// GoString describes the token without its secret.
func (t Token) GoString() string { return t.String() }

// Format prints the String form for every verb.
func (t Token) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(t.String())) }

// LogValue logs the token's public parts only.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("cluster", t.ClusterID.String()),
		slog.String("admin", t.AdminPub.String()),
		slog.Time("expiry", t.Expiry),
	)
}

// EncodeToken signs t with admin, whose public half must be t.AdminPub, and
// returns the text form: TokenPrefix followed by base64url.
func EncodeToken(t Token, admin AdminPrivate) (string, error) {
	if !admin.Public().Equal(t.AdminPub) || t.AdminPub.IsZero() {
		return "", fmt.Errorf("encode join token: the token's admin key is not the signing key")
	}
	if t.ClusterID.IsZero() {
		return "", fmt.Errorf("encode join token: no cluster id")
	}
	if err := t.Ring.Validate(); err != nil {
		return "", fmt.Errorf("encode join token: %w", err)
	}
	if err := checkTime(t.IssuedAt, "issue time"); err != nil {
		return "", fmt.Errorf("encode join token: %w", err)
	}
	if err := checkTime(t.Expiry, "expiry"); err != nil || !t.Expiry.After(t.IssuedAt) {
		return "", fmt.Errorf("encode join token: expiry %s must be after the issue time and before 2262", t.Expiry)
	}
	if len(t.Bootstrap) > MaxBootstrapAddrs {
		return "", fmt.Errorf("encode join token: %d bootstrap addresses, at most %d fit", len(t.Bootstrap), MaxBootstrapAddrs)
	}
	for _, ap := range t.Bootstrap {
		if err := checkBootstrap(ap); err != nil {
			return "", fmt.Errorf("encode join token: %w", err)
		}
	}
	body := t.body()
	sig, err := admin.sign(sigContextToken, body)
	if err != nil {
		return "", fmt.Errorf("encode join token: %w", err)
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(append(body, sig[:]...)), nil
}

// checkBootstrap accepts addresses a node can dial.
func checkBootstrap(ap netip.AddrPort) error {
	a := ap.Addr()
	if !a.IsValid() || a.IsUnspecified() || a.Zone() != "" || ap.Port() == 0 {
		return fmt.Errorf("%w: bootstrap address %s is not a dialable address:port (no zone)", ErrMalformed, ap)
	}
	return nil
}

func (t Token) body() []byte {
	a := appender{b: make([]byte, 0, tokenFixedLen+len(t.Bootstrap)*19)}
	a.header(kindToken)
	a.bytes(t.ClusterID[:])
	a.time(t.IssuedAt)
	a.time(t.Expiry)
	a.bytes(t.AdminPub.k[:])
	a.u8(uint8(t.Ring.Primary))
	for _, k := range t.Ring.Keys {
		a.bytes(k.raw())
	}
	a.u8(uint8(len(t.Bootstrap)))
	for _, ap := range t.Bootstrap {
		addr := ap.Addr().Unmap()
		if addr.Is4() {
			a.u8(4)
		} else {
			a.u8(6)
		}
		a.bytes(addr.AsSlice())
		a.u16(ap.Port())
	}
	return a.b
}

// ParseToken decodes a join token, checks its signature against the admin key
// it carries, and checks it has not expired at now. Whitespace (from line
// wrapping in terminals and mail) is ignored. Errors wrap ErrMalformed,
// ErrBadSignature or ErrExpired and say what to do.
func ParseToken(s string, now time.Time) (Token, error) {
	if len(s) > MaxTokenLen {
		return Token{}, fmt.Errorf("join token: %w: %d characters is longer than any token (at most %d); copy only the line `meshnet token` printed",
			ErrMalformed, len(s), MaxTokenLen)
	}
	s = strings.Join(strings.Fields(s), "")
	b64, ok := strings.CutPrefix(s, TokenPrefix)
	if !ok {
		return Token{}, fmt.Errorf("join token: %w: it must start with %q; copy the whole line `meshnet token` printed on an admin node",
			ErrMalformed, TokenPrefix)
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(b64)
	if err != nil {
		return Token{}, fmt.Errorf("join token: %w: damaged in copying (not base64url); copy it again from `meshnet token`", ErrMalformed)
	}
	t, sig, err := decodeToken(raw)
	if err != nil {
		return Token{}, fmt.Errorf("join token: %w; copy it again from `meshnet token`", err)
	}
	if !t.AdminPub.verify(sigContextToken, raw[:len(raw)-SignatureLen], sig) {
		return Token{}, fmt.Errorf("join token: %w: the token was altered or damaged in copying; copy it again from `meshnet token`", ErrBadSignature)
	}
	if !now.Before(t.Expiry) {
		return Token{}, fmt.Errorf("%w at %s (%s ago); run `meshnet token` on an admin node for a new one",
			ErrExpired, t.Expiry.UTC().Format(time.RFC3339), now.Sub(t.Expiry).Round(time.Second))
	}
	return t, nil
}

// decodeToken parses the binary form and returns the signature.
func decodeToken(b []byte) (Token, [SignatureLen]byte, error) {
	var t Token
	var sig [SignatureLen]byte
	r := reader{b: b}
	r.header(kindToken, "join token")
	r.copyInto(t.ClusterID[:], "cluster id")
	t.IssuedAt = r.time("issue time")
	t.Expiry = r.time("expiry")
	r.copyInto(t.AdminPub.k[:], "admin key")
	t.Ring.Primary = int(r.u8("ring primary"))
	for i := range t.Ring.Keys {
		if v := r.take(SymmetricKeyLen, "ring key"); v != nil {
			t.Ring.Keys[i] = symmetricFrom(v)
		}
	}
	n := int(r.u8("bootstrap count"))
	if r.err == nil && n > MaxBootstrapAddrs {
		r.fail("%d bootstrap addresses exceed the limit of %d", n, MaxBootstrapAddrs)
	}
	for i := 0; i < n && r.err == nil; i++ {
		var addr netip.Addr
		switch fam := r.u8("address family"); fam {
		case 4:
			if v := r.take(4, "IPv4 address"); v != nil {
				addr = netip.AddrFrom4([4]byte(v))
			}
		case 6:
			if v := r.take(16, "IPv6 address"); v != nil {
				addr = netip.AddrFrom16([16]byte(v))
			}
			if addr.Is4In6() {
				r.fail("IPv4 address stored as IPv6")
			}
		default:
			r.fail("unknown address family %d", fam)
		}
		ap := netip.AddrPortFrom(addr, r.u16("port"))
		if r.err == nil {
			if err := checkBootstrap(ap); err != nil {
				return Token{}, sig, err
			}
			t.Bootstrap = append(t.Bootstrap, ap)
		}
	}
	r.copyInto(sig[:], "signature")
	if err := r.end("join token"); err != nil {
		return Token{}, sig, err
	}
	if t.ClusterID.IsZero() || t.AdminPub.IsZero() || t.IssuedAt.IsZero() || !t.Expiry.After(t.IssuedAt) {
		return Token{}, sig, fmt.Errorf("%w: join token lacks a cluster id, admin key, issue time or a later expiry", ErrMalformed)
	}
	if err := t.Ring.Validate(); err != nil {
		return Token{}, sig, err
	}
	return t, sig, nil
}
