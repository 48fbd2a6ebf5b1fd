package keydist

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// RFC 7748 section 6.1: Alice's key pair.
const (
	rfc7748Priv = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
	rfc7748Pub  = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
)

func TestNodePublicKnownAnswer(t *testing.T) {
	b, _ := hex.DecodeString(rfc7748Priv)
	priv := nodePrivateFrom(b)
	if got := priv.Public().UAPIHex(); got != rfc7748Pub {
		t.Fatalf("public key = %s, want %s", got, rfc7748Pub)
	}
	if got := priv.UAPIHex(); got != rfc7748Priv {
		t.Fatalf("UAPIHex = %s, want %s", got, rfc7748Priv)
	}
}

func TestNewNodePrivateIsClamped(t *testing.T) {
	for i := range 32 {
		k, err := NewNodePrivate(testRand(byte(i)))
		if err != nil {
			t.Fatal(err)
		}
		r := k.raw()
		if r[0]&7 != 0 || r[31]&128 != 0 || r[31]&64 == 0 {
			t.Fatalf("key %x is not clamped", r[:])
		}
	}
}

func TestNodeKeyEqualAndZero(t *testing.T) {
	a, apub := newNode(t)
	b, bpub := newNode(t)
	if !a.Equal(a) || a.Equal(b) || a.IsZero() || !(NodePrivate{}).IsZero() {
		t.Fatal("NodePrivate Equal/IsZero wrong")
	}
	if !apub.Equal(apub) || apub.Equal(bpub) || apub.IsZero() || !(NodePublic{}).IsZero() {
		t.Fatal("NodePublic Equal/IsZero wrong")
	}
	if !(NodePrivate{}).Public().IsZero() {
		t.Fatal("zero private key has a non-zero public key")
	}
	if !nodePrivateFrom(make([]byte, 32)).IsZero() {
		t.Fatal("all-zero key is not zero")
	}
}

func TestNodePublicText(t *testing.T) {
	_, pub := newNode(t)
	s := pub.String()
	if strings.Contains(s, ":") || len(s) != 44 {
		t.Fatalf("String() = %q, want bare base64 as wg prints", s)
	}
	for _, in := range []string{s, "nodepub:" + s} {
		got, err := ParseNodePublic(in)
		if err != nil || !got.Equal(pub) {
			t.Fatalf("ParseNodePublic(%q) = %v, %v", in, got, err)
		}
	}
	b, err := json.Marshal(map[string]NodePublic{"k": pub})
	if err != nil || !strings.Contains(string(b), `"nodepub:`+s+`"`) {
		t.Fatalf("json = %s, %v", b, err)
	}
	var back map[string]NodePublic
	if err := json.Unmarshal(b, &back); err != nil || !back["k"].Equal(pub) {
		t.Fatalf("json round trip: %v %v", back, err)
	}
	for _, bad := range []string{"", "nodepub:", s[:43], s + "A", "adminpub:" + s, strings.ReplaceAll(s, "=", "")} {
		if _, err := ParseNodePublic(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseNodePublic(%q) err = %v, want ErrMalformed", bad, err)
		}
	}
}

func TestParseNodePublicDoesNotEchoInput(t *testing.T) {
	priv, _ := newNode(t)
	secret := hex.EncodeToString(priv.raw()[:]) // a private key pasted by mistake
	_, err := ParseNodePublic(secret)
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("error %v echoes its input", err)
	}
}

func TestAdminKeys(t *testing.T) {
	a := newAdmin(t)
	b := newAdmin(t)
	if !a.Equal(a) || a.Equal(b) || a.IsZero() || !(AdminPrivate{}).IsZero() || !(AdminPrivate{}).Public().IsZero() {
		t.Fatal("AdminPrivate Equal/IsZero wrong")
	}
	pub := a.Public()
	s := pub.String()
	if !strings.HasPrefix(s, "adminpub:") {
		t.Fatalf("String() = %q, want adminpub: prefix", s)
	}
	got, err := ParseAdminPublic(s)
	if err != nil || !got.Equal(pub) {
		t.Fatalf("ParseAdminPublic: %v %v", got, err)
	}
	if _, err := ParseAdminPublic(strings.TrimPrefix(s, "adminpub:")); !errors.Is(err, ErrMalformed) {
		t.Fatalf("unprefixed admin key accepted: %v", err)
	}
	if !adminPrivateFromSeed(a.seed()).Equal(a) {
		t.Fatal("seed does not reproduce the key")
	}
	sig, err := a.sign(sigContextToken, []byte("msg"))
	if err != nil {
		t.Fatal(err)
	}
	if !pub.verify(sigContextToken, []byte("msg"), sig) {
		t.Fatal("signature does not verify")
	}
	if pub.verify(sigContextKeyRecord, []byte("msg"), sig) {
		t.Fatal("signature verifies under another context")
	}
	if b.Public().verify(sigContextToken, []byte("msg"), sig) || (AdminPublic{}).verify(sigContextToken, []byte("msg"), sig) {
		t.Fatal("signature verifies under another key")
	}
	if _, err := (AdminPrivate{}).sign(sigContextToken, nil); err == nil {
		t.Fatal("zero admin key signed")
	}
}

func TestSymmetricKey(t *testing.T) {
	a, b := newSym(t), newSym(t)
	if !a.Equal(a) || a.Equal(b) || a.IsZero() || !(SymmetricKey{}).IsZero() || !(SymmetricKey{}).Equal(symmetricFrom(make([]byte, 32))) {
		t.Fatal("SymmetricKey Equal/IsZero wrong")
	}
	raw := a.Bytes()
	raw[0] ^= 1 // Bytes returns a copy
	if !symmetricFrom(a.Bytes()).Equal(a) || symmetricFrom(raw).Equal(a) {
		t.Fatal("Bytes does not return a copy of the key")
	}
	if a.UAPIHex() != hex.EncodeToString(a.Bytes()) {
		t.Fatal("UAPIHex is not the hex of the key")
	}
}

func TestClusterIDText(t *testing.T) {
	id, err := NewClusterID(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseClusterID(id.String())
	if err != nil || got != id {
		t.Fatalf("round trip: %v %v", got, err)
	}
	for _, bad := range []string{"", "xyz", strings.Repeat("g", 32), id.String()[1:]} {
		if _, err := ParseClusterID(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseClusterID(%q) = %v", bad, err)
		}
	}
}

func TestUsableRejectsLowOrderPoints(t *testing.T) {
	// Zero and the order-2 and order-4 points (u = 0, 1, p-1) have no
	// secret shared key.
	one := [32]byte{0: 1}
	pMinus1 := [32]byte{0: 0xec}
	for i := 1; i < 31; i++ {
		pMinus1[i] = 0xff
	}
	pMinus1[31] = 0x7f
	for _, b := range [][32]byte{{}, one, pMinus1} {
		if NodePublicFromRaw32(b).usable() {
			t.Errorf("low-order point %x accepted", b)
		}
	}
	_, pub := newNode(t)
	if !pub.usable() {
		t.Fatal("real public key rejected")
	}
}
