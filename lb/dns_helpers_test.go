package lb

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// dnsFixture is a balancer with a few services and a DNS server on
// 127.0.0.1 in front of it.
type dnsFixture struct {
	srv  *DNSServer
	bal  *Balancer
	udp  string
	tcp  string
	recs StaticRecords
}

func newDNSFixture(t *testing.T, mod func(*DNSConfig)) *dnsFixture {
	t.Helper()
	cfg := DefaultBalancerConfig()
	cfg.MACs = &macTable{}
	bal, err := NewBalancer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	svcs := []Service{
		{Name: "web", Network: "blue", VNI: 7, VIP: netip.MustParseAddr("10.7.0.100"), Ports: []PortSpec{{80, ProtoTCP}}, Mode: ModeVIP},
		{Name: "web6", Network: "blue", VNI: 7, VIP: netip.MustParseAddr("fd07::100"), Ports: []PortSpec{{80, ProtoTCP}}, Mode: ModeVIP},
		{Name: "rr", Network: "blue", VNI: 7, Mode: ModeDNSRR},
		{Name: "green", Network: "green", VNI: 8, VIP: netip.MustParseAddr("10.8.0.100"), Ports: []PortSpec{{80, ProtoTCP}}, Mode: ModeVIP},
		{Name: "big", Network: "blue", VNI: 7, Mode: ModeDNSRR},
	}
	bs := []Backend{
		{Service: "rr", Addr: netip.MustParseAddrPort("10.7.0.11:0"), Node: "n1", Healthy: true},
		{Service: "rr", Addr: netip.MustParseAddrPort("10.7.0.12:0"), Node: "n1", Healthy: true},
		{Service: "rr", Addr: netip.MustParseAddrPort("10.7.0.13:0"), Node: "n2", Healthy: true},
		{Service: "rr", Addr: netip.MustParseAddrPort("10.7.0.14:0"), Node: "n2", Healthy: false},
	}
	for i := range 100 {
		bs = append(bs, Backend{Service: "big", Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 7, 1, byte(i + 1)}), 0), Node: "n1", Healthy: true})
	}
	if err := bal.Update(svcs, bs); err != nil {
		t.Fatal(err)
	}
	recs := StaticRecords{
		"db-1":   {netip.MustParseAddr("10.7.0.21"), netip.MustParseAddr("fd07::21")},
		"node-a": {netip.MustParseAddr("10.7.0.1")},
		"web":    {netip.MustParseAddr("10.7.9.9")}, // shadowed by the service
	}
	dc := DefaultDNSConfig()
	dc.Port = 0
	dc.TTL = 7 * time.Second
	if mod != nil {
		mod(&dc)
	}
	srv, err := NewDNSServer(dc, bal, recs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	if err := srv.Listen([]netip.Addr{netip.MustParseAddr("127.0.0.1")}); err != nil {
		t.Fatal(err)
	}
	f := &dnsFixture{srv: srv, bal: bal, recs: recs}
	for _, a := range srv.Addrs() {
		switch a.(type) {
		case *net.UDPAddr:
			f.udp = a.String()
		case *net.TCPAddr:
			f.tcp = a.String()
		}
	}
	return f
}

func (f *dnsFixture) query(t *testing.T, netw, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	return f.exchange(t, netw, m)
}

func (f *dnsFixture) exchange(t *testing.T, netw string, m *dns.Msg) *dns.Msg {
	t.Helper()
	addr := f.udp
	if netw == "tcp" {
		addr = f.tcp
	}
	c := &dns.Client{Net: netw, Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s query %v: %v", netw, m.Question, err)
	}
	return r
}

func answerAddrs(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		switch v := rr.(type) {
		case *dns.A:
			out = append(out, v.A.String())
		case *dns.AAAA:
			out = append(out, v.AAAA.String())
		}
	}
	return out
}
