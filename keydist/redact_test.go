package keydist

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// encodings returns every common printed form of raw, so a leak is found
// whatever encoding it took.
func encodings(raw []byte) []string {
	return []string{
		hex.EncodeToString(raw),
		strings.ToUpper(hex.EncodeToString(raw)),
		base64.StdEncoding.EncodeToString(raw),
		base64.URLEncoding.EncodeToString(raw),
		base64.RawStdEncoding.EncodeToString(raw),
		base64.RawURLEncoding.EncodeToString(raw),
		fmt.Sprint(raw),         // [1 2 3 ...]
		fmt.Sprintf("%#v", raw), // []byte{0x1, ...}
		string(raw),
	}
}

// secretCase is a value holding secret bytes.
type secretCase struct {
	name   string
	value  any
	secret []byte
}

func secretCases(t *testing.T) []secretCase {
	nodePriv, _ := newNode(t)
	admin := newAdmin(t)
	sym := newSym(t)
	ring := newRing(t)
	tok := Token{ClusterID: testCluster(t), AdminPub: admin.Public(), Ring: ring, IssuedAt: testTime, Expiry: testTime.Add(time.Hour)}
	epoch := Epoch{Number: 7, Key: sym}
	cases := []secretCase{
		{"NodePrivate", nodePriv, nodePriv.raw()[:]},
		{"AdminPrivate", admin, admin.raw()},
		{"AdminPrivate seed", admin, admin.seed()},
		{"SymmetricKey", sym, sym.raw()},
		{"Epoch", epoch, sym.raw()},
		{"Material", Material{Epoch: epoch, Ring: ring}, sym.raw()},
	}
	for i, k := range ring.Keys {
		cases = append(cases,
			secretCase{fmt.Sprintf("GossipKeyring key %d", i), ring, k.raw()},
			secretCase{fmt.Sprintf("Token ring key %d", i), tok, k.raw()},
		)
	}
	// A struct that keeps keys in unexported fields: fmt cannot call their
	// methods there, so only the pointer representation protects them.
	type holder struct {
		priv NodePrivate
		sym  SymmetricKey
	}
	cases = append(cases,
		secretCase{"unexported NodePrivate field", holder{priv: nodePriv}, nodePriv.raw()[:]},
		secretCase{"unexported SymmetricKey field", holder{sym: sym}, sym.raw()},
	)
	return cases
}

func TestSecretsNeverPrinted(t *testing.T) {
	for _, tc := range secretCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			var outputs []string
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
				outputs = append(outputs, fmt.Sprintf(verb, tc.value), fmt.Sprintf(verb, &tc.value))
			}
			outputs = append(outputs, fmt.Sprint(tc.value), fmt.Sprintln(tc.value))
			if b, err := json.Marshal(tc.value); err == nil {
				outputs = append(outputs, string(b))
			}
			if b, err := json.Marshal(map[string]any{"k": tc.value, "list": []any{tc.value}}); err == nil {
				outputs = append(outputs, string(b))
			}
			for _, h := range []func(*bytes.Buffer) slog.Handler{
				func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
				func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
			} {
				var buf bytes.Buffer
				log := slog.New(h(&buf))
				log.Info("msg", "key", tc.value, slog.Any("any", tc.value), slog.Group("g", "k", tc.value))
				log.Info(fmt.Sprint(tc.value))
				outputs = append(outputs, buf.String())
			}
			for _, out := range outputs {
				for _, enc := range encodings(tc.secret) {
					if strings.Contains(out, enc) {
						t.Fatalf("output %q contains the secret (as %q)", out, enc)
					}
				}
			}
		})
	}
}

func TestSecretMarkers(t *testing.T) {
	nodePriv, _ := newNode(t)
	for _, tc := range []struct {
		v    fmt.Stringer
		want string
	}{
		{nodePriv, "nodepriv:[redacted]"},
		{newAdmin(t), "adminpriv:[redacted]"},
		{newSym(t), "symkey:[redacted]"},
	} {
		if got := tc.v.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
		if got := fmt.Sprintf("%#v", tc.v); got != tc.want {
			t.Errorf("%%#v = %q, want %q", got, tc.want)
		}
		b, _ := json.Marshal(tc.v)
		if string(b) != `"`+tc.want+`"` {
			t.Errorf("json = %s, want %q", b, tc.want)
		}
	}
	tok := Token{ClusterID: testCluster(t), Ring: newRing(t), Expiry: testTime}
	if s := tok.String(); !strings.Contains(s, "[redacted]") || !strings.Contains(s, tok.ClusterID.String()) {
		t.Errorf("Token.String() = %q, want the cluster id and a redaction marker", s)
	}
}
