package config

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"meshnet.dev/meshnet/keydist"
)

// encryptedConfig has one encrypted static peer, router, on network red.
const encryptedConfig = `
name: host1
state_dir: /tmp/meshnet-test
networks:
  - name: red
    subnet: 10.30.0.0/24
peers:
  - name: router
    public_key: PUBKEY
    endpoint: 192.0.2.20
    preshared_key_file: PSKFILE
    endpoints:
      - {network: red, ip: 10.30.0.200}
`

func newPublic(t *testing.T) keydist.NodePublic {
	t.Helper()
	k, err := keydist.NewNodePrivate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k.Public()
}

// pskFile writes a preshared key file of the given mode and returns its
// path and contents.
func pskFile(t *testing.T, mode os.FileMode) (string, string) {
	t.Helper()
	b := make([]byte, 32)
	rand.Read(b)
	text := base64.StdEncoding.EncodeToString(b)
	path := filepath.Join(t.TempDir(), "router.psk")
	if err := os.WriteFile(path, []byte(text+"\n"), mode); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, mode)
	return path, text
}

func encryptedText(t *testing.T) (text string, pub keydist.NodePublic, psk string) {
	pub = newPublic(t)
	path, psk := pskFile(t, 0o600)
	r := strings.NewReplacer("PUBKEY", pub.String(), "PSKFILE", path)
	return r.Replace(encryptedConfig), pub, psk
}

func TestEncryptedPeer(t *testing.T) {
	text, pub, psk := encryptedText(t)
	s, err := parse(t, text)
	if err != nil {
		t.Fatal(err)
	}
	p := s.Peers[0]
	want, _ := keydist.PresharedKeyFromBytes(mustB64(t, psk))
	switch {
	case !p.Encrypted() || p.Key != pub:
		t.Errorf("key %v", p.Key)
	case p.VTEP != keydist.VTEP(pub):
		t.Errorf("VTEP %v, want the one derived from the key", p.VTEP)
	case p.WG != netip.MustParseAddrPort("192.0.2.20:51820"):
		t.Errorf("endpoint %v, want the default WireGuard port", p.WG)
	case !p.PSK.Equal(want):
		t.Error("preshared key not read from the file")
	case p.Underlay.IsValid():
		t.Errorf("an encrypted peer has a plain VXLAN address %v", p.Underlay)
	case len(p.Endpoints) != 1 || p.Endpoints[0].MAC != InterfaceMAC("router", "red"):
		t.Errorf("endpoints %+v", p.Endpoints)
	}
	s, err = parse(t, strings.Replace(text, "    endpoints:", "    vtep: fd42::20\n    endpoints:", 1))
	if err != nil || s.Peers[0].VTEP != netip.MustParseAddr("fd42::20") {
		t.Fatalf("a given VTEP: %v %v", err, s)
	}
}

func mustB64(t *testing.T, s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBadEncryptedPeer: each mistake is reported with key, value and fix,
// and no error repeats a whole key or the preshared key.
func TestBadEncryptedPeer(t *testing.T) {
	text, pub, psk := encryptedText(t)
	loose, _ := pskFile(t, 0o644)
	junk := filepath.Join(t.TempDir(), "junk.psk")
	os.WriteFile(junk, []byte("not a key\n"), 0o600)
	secretish := pub.String()[:40] + "!!!="
	cases := []struct{ old, new, key, value, fix string }{
		{pub.String(), secretish, "peers[0].public_key", secretish[:6] + "… (44 characters)", "`wg pubkey`"},
		{"endpoint: 192.0.2.20", "endpoint: somewhere", "peers[0].endpoint", "somewhere", "192.0.2.11:51820"},
		{"endpoint: 192.0.2.20", "address: 192.0.2.20", "peers[0].address", "192.0.2.20", "leave address out"},
		{"ip: 10.30.0.200", "ip: 10.31.0.200", "peers[0].endpoints[0].ip", "10.31.0.200", "inside it, for example 10.30.0.1"},
		{"    endpoints:", "    vtep: 10.0.0.1\n    endpoints:", "peers[0].vtep", "10.0.0.1", "fd00::/8"},
		{"subnet: 10.30.0.0/24", "subnet: 10.30.0.0/24\n    encrypted: false", "peers[0].endpoints[0].network", "red", "encrypted network"},
		{"preshared_key_file: ", "preshared_key_file: " + loose + " #", "peers[0].preshared_key_file", loose, "chmod 600"},
		{"preshared_key_file: ", "preshared_key_file: " + junk + " #", "peers[0].preshared_key_file", junk, "`wg genpsk`"},
	}
	for _, c := range cases {
		_, err := parse(t, strings.Replace(text, c.old, c.new, 1))
		if err == nil {
			t.Errorf("%s %q accepted", c.key, c.value)
			continue
		}
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%s: %v is not a FieldError", c.key, err)
		}
		msg := err.Error()
		for _, want := range []string{c.key, `"` + c.value + `"`, c.fix} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q lacks %q", msg, want)
			}
		}
		if strings.Contains(msg, secretish) || strings.Contains(msg, psk) {
			t.Errorf("the error repeats a key: %s", msg)
		}
	}
}

func TestStaticPeersClashWithEachOther(t *testing.T) {
	text, _, _ := encryptedText(t)
	twice := text + strings.Replace(text[strings.Index(text, "  - name: router"):], "name: router", "name: router2", 1)
	_, err := parse(t, twice)
	if err == nil || !strings.Contains(err.Error(), "peers[1].public_key") || !strings.Contains(err.Error(), "peer router has the same key") {
		t.Fatalf("two peers with one key: %v", err)
	}
	if _, err := parse(t, strings.Replace(goodConfig, "address: 192.0.2.2", "vtep: fd00::1", 1)); err == nil ||
		!strings.Contains(err.Error(), "a static peer needs address (plain VXLAN) or public_key") {
		t.Fatalf("a peer with neither address nor key: %v", err)
	}
	if _, err := parse(t, strings.Replace(goodConfig, "address: 192.0.2.2", "address: 192.0.2.2\n    vtep: fd00::1", 1)); err == nil ||
		!strings.Contains(err.Error(), "only encrypted peers have vtep") {
		t.Fatalf("a plain peer with a VTEP: %v", err)
	}
}

func TestCheckPeersAgainstTheCluster(t *testing.T) {
	text, pub, _ := encryptedText(t)
	s, err := parse(t, text)
	if err != nil {
		t.Fatal(err)
	}
	self, member := newPublic(t), newPublic(t)
	red := ClusterNetwork{Subnet: netip.MustParsePrefix("10.30.0.0/24"), Encrypted: true}
	ok := Cluster{SelfKey: self, Members: map[string]keydist.NodePublic{"host2": member}, Networks: map[string]ClusterNetwork{"red": red}}
	if err := CheckPeers(s.Peers, ok); err != nil {
		t.Fatalf("a good peer: %v", err)
	}
	clash := func(mod func(*PeerSpec, *Cluster)) error {
		p := s.Peers[0]
		c := Cluster{SelfKey: self, Members: map[string]keydist.NodePublic{"host2": member}, Networks: map[string]ClusterNetwork{"red": red}}
		mod(&p, &c)
		return CheckPeers([]PeerSpec{p}, c)
	}
	cases := []struct {
		name string
		mod  func(*PeerSpec, *Cluster)
		want string
	}{
		{"a member's name", func(p *PeerSpec, c *Cluster) { c.Members["router"] = keydist.NodePublic{} }, `peers[0].name "router": a cluster member has this name`},
		{"this node's key", func(p *PeerSpec, c *Cluster) { c.SelfKey = pub }, "peers[0].public_key \"" + pub.String() + "\": this is the public key of this node"},
		{"a member's VTEP", func(p *PeerSpec, c *Cluster) { p.VTEP = keydist.VTEP(member) }, `peers[0].vtep "` + keydist.VTEP(member).String() + `": this is the VTEP of member host2`},
		{"outside the cluster's subnet", func(p *PeerSpec, c *Cluster) {
			c.Networks["red"] = ClusterNetwork{Subnet: netip.MustParsePrefix("10.99.0.0/24"), Encrypted: true}
		},
			`peers[0].endpoints[0].ip "10.30.0.200": not inside network red's subnet 10.99.0.0/24; use an address inside it, for example 10.99.0.1`},
		{"a plain network", func(p *PeerSpec, c *Cluster) { c.Networks["red"] = ClusterNetwork{Subnet: red.Subnet} }, "encrypted: false, unlike the peer"},
	}
	for _, c := range cases {
		err := clash(c.mod)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
