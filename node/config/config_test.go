package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const goodConfig = `
name: host1
state_dir: /tmp/meshnet-test
mode: tap
underlay:
  address: 192.0.2.1
networks:
  - name: blue
    vni: 42
    subnet: 10.20.0.0/24
    address: 10.20.0.1
    encrypted: false
peers:
  - name: host2
    address: 192.0.2.2
    endpoints:
      - {network: blue, ip: 10.20.0.2}
`

func parse(t *testing.T, text string) (*Spec, error) {
	t.Helper()
	cfg := DefaultConfig()
	if err := decodeConfig([]byte(text), &cfg); err != nil {
		return nil, err
	}
	return cfg.Validate()
}

func TestGoodConfig(t *testing.T) {
	s, err := parse(t, goodConfig)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Networks) != 1 || s.Networks[0].Device != "mn-blue" || s.Networks[0].Address.String() != "10.20.0.1" {
		t.Fatalf("network %+v", s.Networks)
	}
	if s.Peers[0].Underlay.String() != "192.0.2.2:4789" || s.Peers[0].Endpoints[0].MAC != InterfaceMAC("host2", "blue") {
		t.Fatalf("peer %+v", s.Peers[0])
	}
}

// TestBadConfigNamesKeyValueAndFix checks that every problem is reported
// with the key, the bad value and what to do.
func TestBadConfigNamesKeyValueAndFix(t *testing.T) {
	cases := []struct{ old, new, key, value, fix string }{
		{"subnet: 10.20.0.0/24", "subnet: 10.20.0.0/33", "networks[0].subnet", "10.20.0.0/33", "write it like"},
		{"subnet: 10.20.0.0/24", "subnet: 10.20.0.1/24", "networks[0].subnet", "10.20.0.1/24", "10.20.0.0/24"},
		{"vni: 42", "vni: 16777216", "networks[0].vni", "16777216", "use 1-16777215"},
		{"address: 10.20.0.1", "address: 10.99.0.1", "networks[0].address", "10.99.0.1", "inside 10.20.0.0/24"},
		{"mode: tap", "mode: bridge", "mode", "bridge", `use "tap" or "tun"`},
		{"name: host1", "name: Host_1", "name", "Host_1", "lower-case"},
		{"address: 192.0.2.2", "address: nowhere", "peers[0].address", "nowhere", "for example"},
		{"ip: 10.20.0.2}", "ip: 10.20.0.2, mac: ff:ff:ff:ff:ff:ff}", "peers[0].endpoints[0].mac", "ff:ff:ff:ff:ff:ff", "unicast"},
		{"network: blue,", "network: red,", "peers[0].endpoints[0].network", "red", "add it under networks"},
		{"  - name: blue", "  - name: blue\n    bridge: mn-blue", "networks[0].bridge", "mn-blue", "name of its own"},
		{"  - name: blue", "  - name: blue\n    bridge: a-bridge-name-too-long", "networks[0].bridge", "a-bridge-name-too-long", "at most 15"},
		{"mode: tap", "mode: tun", "networks[0].bridge", "mb-blue", `use mode "tap"`},
	}
	for _, c := range cases {
		text := strings.Replace(goodConfig, c.old, c.new, 1)
		if c.new == "mode: tun" {
			text = strings.Replace(text, "  - name: blue", "  - name: blue\n    bridge: mb-blue", 1)
		}
		_, err := parse(t, text)
		if err == nil {
			t.Errorf("%s=%s accepted", c.key, c.value)
			continue
		}
		msg := err.Error()
		for _, want := range []string{c.key, `"` + c.value + `"`, c.fix} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q lacks %q", msg, want)
			}
		}
	}
}

func TestStaticPeersNeedPlainNetworks(t *testing.T) {
	_, err := parse(t, strings.Replace(goodConfig, "encrypted: false", "encrypted: true", 1))
	if err == nil || !strings.Contains(err.Error(), "set encrypted: false") {
		t.Fatalf("static peer on an encrypted network: %v", err)
	}
}

func TestUnknownKeyRejected(t *testing.T) {
	_, err := parse(t, goodConfig+"\nnetworkz: []\n")
	if err == nil || !strings.Contains(err.Error(), "networkz") {
		t.Fatalf("unknown key: %v", err)
	}
}

func TestLoadConfigFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.yaml")
	os.WriteFile(p, []byte(goodConfig), 0o600)
	cfg, err := LoadConfig(p)
	if err != nil || cfg.Name != "host1" {
		t.Fatalf("%v %+v", err, cfg)
	}
	if _, err := LoadConfig(p + ".missing"); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestReferenceConfigIsValid(t *testing.T) {
	cfg, err := LoadConfig("../../configs/meshnet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func FuzzConfig(f *testing.F) {
	f.Add(goodConfig)
	f.Add("networks: [{name: x, vni: -1}]")
	f.Add("peers: [{endpoints: [{}]}]")
	f.Fuzz(func(t *testing.T, text string) {
		cfg := DefaultConfig()
		if decodeConfig([]byte(text), &cfg) != nil {
			return
		}
		cfg.Validate()
	})
}

// TestReferenceConfigDocumentsEveryKey keeps configs/meshnet.yaml in step
// with the Config struct: every yaml key must appear in it.
func TestReferenceConfigDocumentsEveryKey(t *testing.T) {
	ref, err := os.ReadFile("../../configs/meshnet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range configKeys(reflect.TypeOf(Config{})) {
		if !strings.Contains(string(ref), key+":") {
			t.Errorf("configs/meshnet.yaml does not document %q", key)
		}
	}
}

func configKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		keys = append(keys, tag)
		ft := f.Type
		if ft.Kind() == reflect.Slice || ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			keys = append(keys, configKeys(ft)...)
		}
	}
	return keys
}

func TestUserspaceDefaults(t *testing.T) {
	s, err := parse(t, "name: x\nuserspace: true\nforward: [\"tcp:8080:web:80\"]\nexpose: [\"tcp:80:8080\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	if s.Proxies.SOCKS5.String() != "127.0.0.1:1080" || s.Proxies.HTTPConnect.String() != "127.0.0.1:3128" {
		t.Fatalf("proxies %v %v", s.Proxies.SOCKS5, s.Proxies.HTTPConnect)
	}
	if len(s.Proxies.Forwards) != 1 || len(s.Proxies.Exposes) != 1 {
		t.Fatalf("forwards %v exposes %v", s.Proxies.Forwards, s.Proxies.Exposes)
	}
	_, err = parse(t, "name: x\nuserspace: true\nforward: [\"tcp:web\"]\n")
	if err == nil || !strings.Contains(err.Error(), "forward[0]") {
		t.Fatalf("bad forward: %v", err)
	}
}
