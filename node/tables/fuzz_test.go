package tables

import (
	"crypto/rand"
	"encoding/json"
	"net/netip"
	"testing"

	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/keydist"
	"meshnet.dev/meshnet/lb"
)

// Every decoder of what other nodes send is fuzzed: node metadata, network
// and service definitions, endpoint entries.

func FuzzDecodeMeta(f *testing.F) {
	key, _ := keydist.NewNodePrivate(rand.Reader)
	good, _ := Meta{VXLAN: netip.MustParseAddrPort("192.0.2.1:4789"), Key: key.Public(),
		WG: netip.MustParseAddrPort("192.0.2.1:51820"), Epoch: 7}.Encode()
	f.Add(good)
	f.Add([]byte(`{"v":1,"vxlan":"[::ffff:192.0.2.1]:4789"}`))
	f.Add([]byte(`{"v":1,"vxlan":"0.0.0.0:0"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMeta(b)
		if err != nil {
			return
		}
		if !m.VXLAN.IsValid() || m.VXLAN.Port() == 0 || m.VXLAN.Addr().Is4In6() {
			t.Fatalf("accepted unusable metadata %+v", m)
		}
		again, err := m.Encode()
		if err == nil {
			if _, err := DecodeMeta(again); err != nil {
				t.Fatalf("re-encoded metadata does not decode: %v", err)
			}
		}
	})
}

func FuzzDecodeDef(f *testing.F) {
	good, _ := json.Marshal(NetDef{Name: "blue", VNI: 42, Subnet: netip.MustParsePrefix("10.0.0.0/24"), Origin: "a"})
	f.Add("blue", "a", uint64(3), good)
	f.Add("blue", "b", uint64(3), []byte(`{"name":"blue","vni":0}`))
	f.Fuzz(func(t *testing.T, key, owner string, ltime uint64, value []byte) {
		d, err := DecodeDef(gossip.Entry{Key: key, Owner: owner, LTime: ltime, Value: value})
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
		e, err := DecodeEndpoint(gossip.Entry{Key: key, Owner: "n", Value: value}, sub)
		if err != nil {
			return
		}
		if e.MAC[0]&1 == 1 || (e.IP.IsValid() && !sub.Contains(e.IP)) {
			t.Fatalf("accepted a bad endpoint %+v", e)
		}
	})
}

func FuzzDecodeService(f *testing.F) {
	good, _ := json.Marshal(SvcDef{Service: lb.Service{Name: "web", Network: "blue", Ports: []lb.PortSpec{{Port: 80, Proto: lb.ProtoTCP}},
		Mode: lb.ModeVIP, VIP: netip.MustParseAddr("10.0.0.254")}, Origin: "a"})
	f.Add("web", "a", uint64(2), good)
	f.Add("web", "a", uint64(2), []byte(`{"name":"web","ports":[],"mode":"vip","origin":"a"}`))
	f.Fuzz(func(t *testing.T, key, owner string, ltime uint64, value []byte) {
		d, err := DecodeSvc(gossip.Entry{Key: key, Owner: owner, LTime: ltime, Value: value})
		if err != nil {
			return
		}
		if d.Name != key || len(d.Ports) == 0 || d.Origin == "" {
			t.Fatalf("accepted a bad service %+v", d)
		}
	})
}

func FuzzDecodeStatic(f *testing.F) {
	key, _ := keydist.NewNodePrivate(rand.Reader)
	pub := key.Public()
	psk, _ := keydist.PresharedKeyFromBytes([]byte("0123456789abcdef0123456789abcdef"))
	enc, _ := StaticPeer{Name: "router", Key: pub, VTEP: keydist.VTEP(pub), PSK: psk, WG: netip.MustParseAddrPort("192.0.2.20:51820"),
		Endpoints: []StaticEndpoint{{Network: "red", IP: netip.MustParseAddr("10.0.0.200"), MAC: macA}}}.Encode()
	plain, _ := StaticPeer{Name: "kernel", Underlay: netip.MustParseAddrPort("192.0.2.30:4789")}.Encode()
	f.Add("router", enc)
	f.Add("kernel", plain)
	f.Add("kernel", []byte(`{"v":1,"vxlan":"[::ffff:192.0.2.1]:4789","endpoints":[{"net":"b","ip":"::ffff:10.0.0.1","mac":"02:00:00:00:00:01"}]}`))
	f.Fuzz(func(t *testing.T, name string, value []byte) {
		p, err := DecodeStatic(gossip.Entry{Key: name, Owner: "a", Value: value})
		if err != nil {
			return
		}
		if p.Name != name || len(p.Endpoints) > MaxStaticEndpoints {
			t.Fatalf("accepted %+v", p)
		}
		if p.Encrypted() == p.Underlay.IsValid() || (p.Encrypted() && !isVTEP(p.VTEP)) || p.Underlay.Addr().Is4In6() {
			t.Fatalf("accepted a peer of no usable kind %+v", p)
		}
		for _, e := range p.Endpoints {
			if e.MAC[0]&1 == 1 || e.IP.Is4In6() {
				t.Fatalf("accepted a bad endpoint %+v", e)
			}
		}
		again, err := p.Encode()
		if err != nil {
			t.Fatalf("a decoded peer does not encode: %v", err)
		}
		if _, err := DecodeStatic(gossip.Entry{Key: name, Value: again}); err != nil {
			t.Fatalf("a re-encoded peer does not decode: %v", err)
		}
	})
}
