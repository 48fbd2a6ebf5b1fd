package lb

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// FuzzDNSQuery feeds raw wire bytes to the query handler. It must never
// panic; any reply must unpack, carry the query's ID with QR set, and fit
// the size the client can take; a query handed on for forwarding must have
// exactly one question outside the domain.
func FuzzDNSQuery(f *testing.F) {
	for _, q := range []struct {
		name  string
		qtype uint16
		edns  bool
	}{
		{"web.meshnet.internal.", dns.TypeA, false},
		{"rr.meshnet.internal.", dns.TypeA, true},
		{"db-1.meshnet.internal.", dns.TypeAAAA, false},
		{"meshnet.internal.", dns.TypeSOA, false},
		{"example.com.", dns.TypeA, true},
	} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		if q.edns {
			m.SetEdns0(4096, true)
		}
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Add([]byte{0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'a', 'b'}, false)

	cfg := DefaultBalancerConfig()
	cfg.MACs = &macTable{}
	bal, err := NewBalancer(cfg)
	if err != nil {
		f.Fatal(err)
	}
	var bs []Backend
	for i := range 60 {
		bs = append(bs, Backend{Service: "rr", Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 7, 1, byte(i + 1)}), 0), Node: "n", Healthy: true})
	}
	if err := bal.Update([]Service{
		{Name: "web", Network: "n", VNI: 7, VIP: netip.MustParseAddr("10.7.0.100"), Ports: []PortSpec{{80, ProtoTCP}}, Mode: ModeVIP},
		{Name: "rr", Network: "n", VNI: 7, Mode: ModeDNSRR},
	}, bs); err != nil {
		f.Fatal(err)
	}
	dc := DefaultDNSConfig()
	dc.Upstreams = []netip.AddrPort{netip.MustParseAddrPort("192.0.2.53:53")} // never contacted
	srv, err := NewDNSServer(dc, bal, StaticRecords{"db-1": {netip.MustParseAddr("fd07::21")}})
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, raw []byte, tcp bool) {
		if len(raw) > MaxDNSQuerySize {
			return // the serving loops drop these before the handler
		}
		reply, fwd, size := srv.process(raw, tcp)
		if fwd != nil {
			if reply != nil {
				t.Fatal("both a reply and a forward")
			}
			if len(fwd.Question) != 1 || dns.IsSubDomain(srv.domain, fwd.Question[0].Name) {
				t.Fatalf("forwarding %v", fwd.Question)
			}
			return
		}
		if reply == nil {
			return
		}
		var r dns.Msg
		if err := r.Unpack(reply); err != nil {
			t.Fatalf("reply does not unpack: %v", err)
		}
		if !r.Response || r.Id != uint16(raw[0])<<8|uint16(raw[1]) {
			t.Fatalf("reply id %#x response=%v for query id %#x", r.Id, r.Response, raw[:2])
		}
		if !tcp && len(reply) > size {
			t.Fatalf("UDP reply of %d bytes exceeds the client's %d", len(reply), size)
		}
	})
}
