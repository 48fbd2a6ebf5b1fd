package keydist

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/nacl/box"
)

// Fixed keys, so seed records stay valid (signed, sealed to fuzzNode) across
// runs and the fuzzer starts from inputs that reach every check.
func fuzzAdmin() AdminPrivate { return adminPrivateFromSeed(bytes.Repeat([]byte{1}, 32)) }

func fuzzNode() NodePrivate {
	k := bytes.Repeat([]byte{2}, 32)
	k[0] &= 248
	k[31] = (k[31] & 127) | 64
	return nodePrivateFrom(k)
}

func fuzzNow() time.Time { return time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC) }

func FuzzParseToken(f *testing.F) {
	f.Add("meshnet1-")
	f.Add("meshnet1-AQM")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseToken(s, fuzzNow())
		if err != nil {
			return
		}
		// Only canonical, signed, unexpired tokens get here.
		raw, derr := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(strings.Join(strings.Fields(s), ""), TokenPrefix))
		if derr != nil || !bytes.Equal(tok.body(), raw[:len(raw)-SignatureLen]) {
			t.Fatal("accepted token does not re-encode to its input")
		}
		if !fuzzNow().Before(tok.Expiry) || tok.Ring.Validate() != nil {
			t.Fatal("accepted an expired or invalid token")
		}
	})
}

func FuzzDecodeKeyRecord(f *testing.F) {
	f.Add([]byte{wireVersion, kindKeyRecord})
	admin, node := fuzzAdmin().Public(), fuzzNode()
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := DecodeKeyRecord(b)
		if err != nil {
			return
		}
		if !bytes.Equal(rec.Encode(), b) {
			t.Fatal("decoded record does not re-encode to its input")
		}
		_ = rec.Verify(admin)
		if m, err := rec.Open(node); err == nil && (m.ClusterID != rec.ClusterID || m.Epoch.Number != rec.Epoch) {
			t.Fatal("opened material that does not match its record")
		}
	})
}

func FuzzDecodeEvictRecord(f *testing.F) {
	f.Add([]byte{wireVersion, kindEvictRecord})
	admin := fuzzAdmin().Public()
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := DecodeEvictRecord(b)
		if err != nil {
			return
		}
		if !bytes.Equal(rec.Encode(), b) {
			t.Fatal("decoded record does not re-encode to its input")
		}
		if checkNodeName(rec.Name) != nil {
			t.Fatal("accepted an invalid node name")
		}
		_ = rec.Verify(admin)
	})
}

// FuzzOpenSealed drives the sealed-box open path: the input is used both as
// a box (it must not open unless sealed to the node) and as a plaintext
// sealed to the node (so material decoding sees arbitrary bytes).
func FuzzOpenSealed(f *testing.F) {
	f.Add(make([]byte, sealedMaterialLen))
	node := fuzzNode()
	pub := node.Public()
	f.Fuzz(func(t *testing.T, b []byte) {
		rec := &KeyRecord{Seq: 1, Epoch: 1, Recipients: []Sealed{{To: pub, Box: b}}}
		if m, err := rec.Open(node); err == nil {
			rec.ClusterID = m.ClusterID
			rec.Epoch = m.Epoch.Number
		}
		sealed, err := box.SealAnonymous(nil, b, &pub.k, testRand(0))
		if err != nil {
			t.Fatal(err)
		}
		rec.Recipients[0].Box = sealed
		m, err := rec.Open(node)
		if err != nil {
			return
		}
		if m.validate() != nil || !bytes.Equal(m.encode(), b) {
			t.Fatal("accepted material that is invalid or not canonical")
		}
	})
}

func FuzzDecodeClusterState(f *testing.F) {
	f.Add([]byte{wireVersion, kindClusterState})
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := decodeClusterState(b)
		if err != nil {
			return
		}
		if !bytes.Equal(st.encode(), b) {
			t.Fatal("decoded state does not re-encode to its input")
		}
		if st.Ring.Validate() != nil {
			t.Fatal("accepted an invalid ring")
		}
	})
}

// FuzzParseKeyText covers the text parsers: public keys, cluster ids and the
// key files.
func FuzzParseKeyText(f *testing.F) {
	f.Add("nodepub:" + base64.StdEncoding.EncodeToString(make([]byte, 32)))
	f.Fuzz(func(t *testing.T, s string) {
		if p, err := ParseNodePublic(s); err == nil {
			if q, err := ParseNodePublic(p.String()); err != nil || !q.Equal(p) {
				t.Fatal("node public key does not round-trip")
			}
		}
		if p, err := ParseAdminPublic(s); err == nil && p.String() != s {
			t.Fatal("admin public key is not canonical")
		}
		if id, err := ParseClusterID(s); err == nil && !strings.EqualFold(id.String(), s) {
			t.Fatal("cluster id does not round-trip")
		}
		if k, err := parseNodeKeyFile([]byte(s)); err == nil && k.IsZero() {
			t.Fatal("accepted the zero node key")
		}
		if k, err := parseAdminKeyFile([]byte(s)); err == nil && k.IsZero() {
			t.Fatal("accepted the zero admin key")
		}
	})
}
