package node

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/keydist"
	"meshnet.dev/meshnet/lb"

	"meshnet.dev/meshnet/node/config"
)

// Every decoder of what other nodes send is fuzzed: node metadata, network
// and service definitions, endpoint entries; and the state file, which a
// disk error could garble.

func FuzzDecodeMeta(f *testing.F) {
	key, _ := keydist.NewNodePrivate(rand.Reader)
	good, _ := nodeMeta{VXLAN: netip.MustParseAddrPort("192.0.2.1:4789"), Key: key.Public(),
		WG: netip.MustParseAddrPort("192.0.2.1:51820"), Epoch: 7}.encode()
	f.Add(good)
	f.Add([]byte(`{"v":1,"vxlan":"[::ffff:192.0.2.1]:4789"}`))
	f.Add([]byte(`{"v":1,"vxlan":"0.0.0.0:0"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			return
		}
		if !m.VXLAN.IsValid() || m.VXLAN.Port() == 0 || m.VXLAN.Addr().Is4In6() {
			t.Fatalf("accepted unusable metadata %+v", m)
		}
		again, err := m.encode()
		if err == nil {
			if _, err := decodeMeta(again); err != nil {
				t.Fatalf("re-encoded metadata does not decode: %v", err)
			}
		}
	})
}

func FuzzDecodeDef(f *testing.F) {
	good, _ := json.Marshal(netDef{Name: "blue", VNI: 42, Subnet: netip.MustParsePrefix("10.0.0.0/24"), Origin: "a"})
	f.Add("blue", "a", uint64(3), good)
	f.Add("blue", "b", uint64(3), []byte(`{"name":"blue","vni":0}`))
	f.Fuzz(func(t *testing.T, key, owner string, ltime uint64, value []byte) {
		d, err := decodeDef(gossip.Entry{Key: key, Owner: owner, LTime: ltime, Value: value})
		if err != nil {
			return
		}
		if d.Name != key || d.VNI == 0 || !d.Subnet.IsValid() || d.Subnet != d.Subnet.Masked() || d.Origin == "" {
			t.Fatalf("accepted a bad definition %+v", d)
		}
	})
}

func FuzzDecodeEndpoint(f *testing.F) {
	sub := netip.MustParsePrefix("10.0.0.0/24")
	f.Add("02:00:00:00:00:01/10.0.0.5", []byte(nil))
	f.Add("02:00:00:00:00:01/", []byte(nil))
	f.Add("ff:ff:ff:ff:ff:ff/10.0.0.5", []byte(nil))
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		e, err := decodeEndpoint(gossip.Entry{Key: key, Owner: "n", Value: value}, sub)
		if err != nil {
			return
		}
		if e.MAC[0]&1 == 1 || (e.IP.IsValid() && !sub.Contains(e.IP)) {
			t.Fatalf("accepted a bad endpoint %+v", e)
		}
	})
}

func FuzzDecodeService(f *testing.F) {
	good, _ := json.Marshal(svcDef{Service: lb.Service{Name: "web", Network: "blue", Ports: []lb.PortSpec{{Port: 80, Proto: lb.ProtoTCP}},
		Mode: lb.ModeVIP, VIP: netip.MustParseAddr("10.0.0.254")}, Origin: "a"})
	f.Add("web", "a", uint64(2), good)
	f.Add("web", "a", uint64(2), []byte(`{"name":"web","ports":[],"mode":"vip","origin":"a"}`))
	f.Fuzz(func(t *testing.T, key, owner string, ltime uint64, value []byte) {
		d, err := decodeSvc(gossip.Entry{Key: key, Owner: owner, LTime: ltime, Value: value})
		if err != nil {
			return
		}
		if d.Name != key || len(d.Ports) == 0 || d.Origin == "" {
			t.Fatalf("accepted a bad service %+v", d)
		}
	})
}

func FuzzStateFile(f *testing.F) {
	good, _ := json.Marshal(persisted{V: 1, Seeds: []string{"192.0.2.1:7946"}, Networks: []persistedNet{{Name: "blue"}},
		Blocks: map[string]string{"blue": "10.0.0.4/30"}})
	f.Add(good)
	f.Add([]byte(`{"v":1,"networks":[{"name":"../x"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, stateFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
		p, err := loadState(dir)
		if err != nil {
			return
		}
		for _, n := range p.Networks {
			if !config.ValidName(n.Name) {
				t.Fatalf("accepted network name %q", n.Name)
			}
		}
	})
}

// FuzzKeyRequest: any bytes either decode to a request that encodes back to
// the same bytes, or are refused; nothing panics.
func FuzzKeyRequest(f *testing.F) {
	f.Add(keyRequest{cluster: keydist.ClusterID{1}, node: keydist.NodePublicFromRaw32([32]byte{2}), seq: 3}.encode())
	f.Add([]byte("mnk1"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeKeyRequest(b)
		if err != nil {
			return
		}
		if !bytes.Equal(r.encode(), b) {
			t.Fatalf("decode/encode changed %x", b)
		}
	})
}
