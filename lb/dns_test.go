package lb

import (
	"encoding/binary"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestDNSLocalAnswers(t *testing.T) {
	f := newDNSFixture(t, nil)
	for _, tc := range []struct {
		name  string
		qtype uint16
		rcode int
		want  []string
	}{
		{"web.meshnet.internal.", dns.TypeA, dns.RcodeSuccess, []string{"10.7.0.100"}},
		{"WEB.MeshNet.Internal.", dns.TypeA, dns.RcodeSuccess, []string{"10.7.0.100"}},
		{"web6.meshnet.internal.", dns.TypeAAAA, dns.RcodeSuccess, []string{"fd07::100"}},
		{"web.meshnet.internal.", dns.TypeAAAA, dns.RcodeSuccess, nil}, // NODATA
		{"web.meshnet.internal.", dns.TypeMX, dns.RcodeSuccess, nil},
		{"db-1.meshnet.internal.", dns.TypeA, dns.RcodeSuccess, []string{"10.7.0.21"}},
		{"db-1.meshnet.internal.", dns.TypeAAAA, dns.RcodeSuccess, []string{"fd07::21"}},
		{"db-1.meshnet.internal.", dns.TypeANY, dns.RcodeSuccess, []string{"10.7.0.21", "fd07::21"}},
		{"node-a.meshnet.internal.", dns.TypeA, dns.RcodeSuccess, []string{"10.7.0.1"}},
		{"nope.meshnet.internal.", dns.TypeA, dns.RcodeNameError, nil},
		{"a.web.meshnet.internal.", dns.TypeA, dns.RcodeNameError, nil},
		{"meshnet.internal.", dns.TypeA, dns.RcodeSuccess, nil},
		{"example.com.", dns.TypeA, dns.RcodeRefused, nil},
	} {
		for _, netw := range []string{"udp", "tcp"} {
			r := f.query(t, netw, tc.name, tc.qtype)
			got := answerAddrs(r)
			if r.Rcode != tc.rcode || !slices.Equal(got, tc.want) {
				t.Errorf("%s %s %s: rcode %s answers %v, want %s %v", netw, tc.name, dns.TypeToString[tc.qtype],
					dns.RcodeToString[r.Rcode], got, dns.RcodeToString[tc.rcode], tc.want)
				continue
			}
			if tc.rcode == dns.RcodeRefused {
				continue
			}
			if !r.Authoritative {
				t.Errorf("%s %s: local answer not authoritative", netw, tc.name)
			}
			for _, rr := range r.Answer {
				if rr.Header().Ttl != 7 || rr.Header().Name != tc.name {
					t.Errorf("%s %s: answer %v, want TTL 7 and the query's name", netw, tc.name, rr)
				}
			}
			if len(got) == 0 && tc.qtype != dns.TypeSOA {
				if len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != dns.TypeSOA {
					t.Errorf("%s %s: negative answer without SOA: %v", netw, tc.name, r.Ns)
				}
			}
		}
	}
	r := f.query(t, "udp", "meshnet.internal.", dns.TypeSOA)
	if len(r.Answer) != 1 || r.Answer[0].Header().Rrtype != dns.TypeSOA {
		t.Errorf("apex SOA query answered %v", r.Answer)
	}
}

func TestDNSRoundRobin(t *testing.T) {
	f := newDNSFixture(t, nil)
	firsts := map[string]bool{}
	for range 6 {
		r := f.query(t, "udp", "rr.meshnet.internal.", dns.TypeA)
		got := answerAddrs(r)
		sorted := slices.Sorted(slices.Values(got))
		if !slices.Equal(sorted, []string{"10.7.0.11", "10.7.0.12", "10.7.0.13"}) {
			t.Fatalf("dnsrr answer %v, want the three healthy backends", got)
		}
		firsts[got[0]] = true
	}
	if len(firsts) != 3 {
		t.Fatalf("first answers over 6 queries: %v, want the order to rotate through all 3", firsts)
	}
}

func TestDNSTruncatesUDP(t *testing.T) {
	f := newDNSFixture(t, nil)
	r := f.query(t, "udp", "big.meshnet.internal.", dns.TypeA)
	if !r.Truncated {
		t.Fatalf("100 answers over plain UDP not truncated (%d answers)", len(r.Answer))
	}
	m := new(dns.Msg)
	m.SetQuestion("big.meshnet.internal.", dns.TypeA)
	m.SetEdns0(4096, false)
	r = f.exchange(t, "udp", m)
	if !r.Truncated || r.IsEdns0() == nil {
		t.Fatalf("EDNS answer: truncated=%v opt=%v; want truncated at %d bytes, with OPT", r.Truncated, r.IsEdns0(), maxDNSUDPResponse)
	}
	if r := f.query(t, "tcp", "big.meshnet.internal.", dns.TypeA); r.Truncated || len(r.Answer) != 100 {
		t.Fatalf("TCP answer: truncated=%v, %d answers; want all 100", r.Truncated, len(r.Answer))
	}
}

func TestDNSEDNSVersion(t *testing.T) {
	f := newDNSFixture(t, nil)
	m := new(dns.Msg)
	m.SetQuestion("web.meshnet.internal.", dns.TypeA)
	m.SetEdns0(1232, false)
	m.IsEdns0().SetVersion(1)
	if r := f.exchange(t, "udp", m); r.Rcode != dns.RcodeBadVers {
		t.Fatalf("EDNS version 1 got %s, want BADVERS", dns.RcodeToString[r.Rcode])
	}
}

func TestDNSVNIFilter(t *testing.T) {
	f := newDNSFixture(t, func(c *DNSConfig) { c.VNIs = []uint32{8} })
	if r := f.query(t, "udp", "green.meshnet.internal.", dns.TypeA); !slices.Equal(answerAddrs(r), []string{"10.8.0.100"}) {
		t.Errorf("service on an allowed network: %v", answerAddrs(r))
	}
	// web lives on VNI 7, so the server falls through to the records.
	if r := f.query(t, "udp", "web.meshnet.internal.", dns.TypeA); !slices.Equal(answerAddrs(r), []string{"10.7.9.9"}) {
		t.Errorf("service on another network answered %v, want the endpoint record", answerAddrs(r))
	}
}

func TestDNSMalformed(t *testing.T) {
	f := newDNSFixture(t, nil)
	conn, err := net.Dial("udp", f.udp)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))

	// Too short to answer, a response, and an oversized query: dropped.
	resp := make([]byte, dnsHeaderLen)
	resp[2] = 0x80
	for _, p := range [][]byte{{1, 2, 3}, resp, make([]byte, MaxDNSQuerySize+1)} {
		if _, err := conn.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	// A header claiming a question that is not there: FORMERR, same ID.
	bad := []byte{0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'a', 'b'}
	if _, err := conn.Write(bad); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no reply to a malformed query: %v", err)
	}
	var r dns.Msg
	if err := r.Unpack(buf[:n]); err != nil {
		t.Fatalf("FORMERR reply does not unpack: %v", err)
	}
	if r.Id != 0xbeef || r.Rcode != dns.RcodeFormatError || !r.Response {
		t.Fatalf("reply id %#x rcode %s, want 0xbeef FORMERR", r.Id, dns.RcodeToString[r.Rcode])
	}
	// Two questions: FORMERR too.
	m := new(dns.Msg)
	m.SetQuestion("web.meshnet.internal.", dns.TypeA)
	m.Question = append(m.Question, m.Question[0])
	if r := f.exchange(t, "udp", m); r.Rcode != dns.RcodeFormatError {
		t.Fatalf("two questions got %s, want FORMERR", dns.RcodeToString[r.Rcode])
	}
	// Not a query: NOTIMP.
	m = new(dns.Msg)
	m.SetNotify("meshnet.internal.")
	if r := f.exchange(t, "udp", m); r.Rcode != dns.RcodeNotImplemented {
		t.Fatalf("NOTIFY got %s, want NOTIMP", dns.RcodeToString[r.Rcode])
	}
	// The earlier datagrams were read before the malformed one was answered.
	if st := f.srv.Stats(); st.Dropped != 3 || st.FormErr != 2 {
		t.Fatalf("stats %+v, want 3 dropped and 2 FORMERR", st)
	}
}

func TestDNSOversizedTCPQueryClosesConn(t *testing.T) {
	f := newDNSFixture(t, nil)
	c, err := net.Dial("tcp", f.tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var hdr [2]byte
	binary.BigEndian.PutUint16(hdr[:], MaxDNSQuerySize+1)
	if _, err := c.Write(hdr[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("server answered instead of closing the connection")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("server kept the connection open")
	}
}

func TestDNSTCPConnLimit(t *testing.T) {
	f := newDNSFixture(t, func(c *DNSConfig) { c.MaxTCPConns = 2 })
	dial := func() *dns.Conn {
		c, err := dns.Dial("tcp", f.tcp)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	ask := func(c *dns.Conn, deadline time.Duration) error {
		m := new(dns.Msg)
		m.SetQuestion("web.meshnet.internal.", dns.TypeA)
		_ = c.SetDeadline(time.Now().Add(deadline))
		if err := c.WriteMsg(m); err != nil {
			return err
		}
		_, err := c.ReadMsg()
		return err
	}
	a, b := dial(), dial()
	for _, c := range []*dns.Conn{a, b} {
		if err := ask(c, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	third := dial()
	if err := ask(third, 300*time.Millisecond); err == nil {
		t.Fatal("a third TCP connection was served with the limit at 2")
	}
	a.Close()
	m := new(dns.Msg)
	_ = third.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := third.ReadMsg(); err != nil {
		// The first query's reply arrives once a slot frees up.
		t.Fatalf("third connection not served after a slot freed: %v (%v)", err, m)
	}
}

// fakeUpstream is a resolver on 127.0.0.1 answering every A query with
// 192.0.2.1 over UDP and TCP.
func fakeUpstream(t *testing.T) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	l, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.RecursionAvailable = true
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 1)})
		_ = w.WriteMsg(m)
	})
	us, ut := &dns.Server{PacketConn: pc, Handler: h}, &dns.Server{Listener: l, Handler: h}
	go func() { _ = us.ActivateAndServe() }()
	go func() { _ = ut.ActivateAndServe() }()
	t.Cleanup(func() { _ = us.Shutdown(); _ = ut.Shutdown() })
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
}

// deadUpstream returns a local UDP port nobody listens on.
func deadUpstream(t *testing.T) netip.AddrPort {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ap := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	pc.Close()
	return ap
}

func TestDNSForwarding(t *testing.T) {
	up := fakeUpstream(t)
	f := newDNSFixture(t, func(c *DNSConfig) {
		c.Upstreams = []netip.AddrPort{deadUpstream(t), up}
		c.UpstreamTimeout = 500 * time.Millisecond
	})
	for _, netw := range []string{"udp", "tcp"} {
		m := new(dns.Msg)
		m.SetQuestion("example.com.", dns.TypeA)
		m.Id = 4242
		r := f.exchange(t, netw, m)
		if r.Id != 4242 || r.Rcode != dns.RcodeSuccess || !slices.Equal(answerAddrs(r), []string{"192.0.2.1"}) {
			t.Fatalf("%s forwarded answer id %d rcode %s %v", netw, r.Id, dns.RcodeToString[r.Rcode], answerAddrs(r))
		}
	}
	if r := f.query(t, "udp", "web.meshnet.internal.", dns.TypeA); !r.RecursionAvailable {
		t.Error("RA not set although upstreams are configured")
	}
	if st := f.srv.Stats(); st.Forwarded != 2 {
		t.Errorf("stats %+v, want 2 forwarded", st)
	}
}

func TestDNSForwardingFails(t *testing.T) {
	f := newDNSFixture(t, func(c *DNSConfig) {
		c.Upstreams = []netip.AddrPort{deadUpstream(t)}
		c.UpstreamTimeout = 200 * time.Millisecond
	})
	if r := f.query(t, "udp", "example.com.", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("dead upstream gave %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
}

func TestDNSConfigErrors(t *testing.T) {
	for _, mod := range []func(*DNSConfig){
		func(c *DNSConfig) { c.Domain = "" },
		func(c *DNSConfig) { c.Domain = "bad..name" },
		func(c *DNSConfig) { c.TTL = -time.Second },
		func(c *DNSConfig) { c.UpstreamTimeout = 0 },
		func(c *DNSConfig) { c.Upstreams = []netip.AddrPort{netip.MustParseAddrPort("1.1.1.1:0")} },
		func(c *DNSConfig) { c.MaxTCPConns = 0 },
		func(c *DNSConfig) { c.MaxForwards = 0 },
	} {
		c := DefaultDNSConfig()
		mod(&c)
		if _, err := NewDNSServer(c, nil, nil); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
}

// TestDNSCallerConns serves on sockets the caller made (as a userspace
// network stack would provide) and checks Close stops every goroutine.
func TestDNSCallerConns(t *testing.T) {
	before := runtime.NumGoroutine()
	dc := DefaultDNSConfig()
	srv, err := NewDNSServer(dc, nil, StaticRecords{"n1": {netip.MustParseAddr("10.0.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.StartPacketConn(pc); err != nil {
		t.Fatal(err)
	}
	if err := srv.StartListener(l); err != nil {
		t.Fatal(err)
	}
	f := &dnsFixture{udp: pc.LocalAddr().String(), tcp: l.Addr().String()}
	for _, netw := range []string{"udp", "tcp"} {
		if r := f.query(t, netw, "n1.meshnet.internal.", dns.TypeA); !slices.Equal(answerAddrs(r), []string{"10.0.0.1"}) {
			t.Fatalf("%s: %v", netw, r)
		}
	}
	idle, err := net.Dial("tcp", f.tcp) // an idle client must not hold up Close
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.StartPacketConn(pc); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("StartPacketConn after Close = %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Close, %d before", runtime.NumGoroutine(), before)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond) // polling interval, bounded by the deadline
	}
}
