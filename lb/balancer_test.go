package lb

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"meshnet.dev/meshnet/internal/packet"
)

func webService(vni uint32, ports ...PortSpec) Service {
	if len(ports) == 0 {
		ports = []PortSpec{{80, ProtoTCP}, {53, ProtoUDP}}
	}
	return Service{Name: "web", Network: "blue", VNI: vni, VIP: netip.MustParseAddr("10.7.0.100"), Ports: ports, Mode: ModeVIP}
}

func TestBalancerTCPRoundTrip(t *testing.T) {
	e := newLBEnv(t, 1024)
	bs := e.backends("web", "10.7.0.11:0", "10.7.0.12:0", "10.7.0.13:0")
	e.update([]Service{webService(e.vni)}, bs)

	client := netip.AddrPortFrom(e.client, 40000)
	vip := netip.MustParseAddrPort("10.7.0.100:80")
	v, f, p := e.out(ProtoTCP, client, vip, pktOpts{tcpFlags: tcpSYN})
	if v != packet.Pass {
		t.Fatalf("verdict %v, want Pass", v)
	}
	backend := p.dst
	if backend.Port() != 80 || !strings.HasPrefix(backend.Addr().String(), "10.7.0.1") {
		t.Fatalf("DNAT to %v, want one of the backends on port 80", backend)
	}
	if p.src != client {
		t.Fatalf("source changed to %v", p.src)
	}
	if dstMAC(f) != backendMAC(backend.Addr()) || srcMAC(f) != clientMAC {
		t.Fatalf("MACs dst=%x src=%x, want dst %x", dstMAC(f), srcMAC(f), backendMAC(backend.Addr()))
	}

	v, f, p = e.in(ProtoTCP, backend, client, pktOpts{tcpFlags: tcpSYN | tcpACK})
	if v != packet.Pass || p.src != vip || p.dst != client {
		t.Fatalf("reply %v -> %v (%v), want %v -> %v", p.src, p.dst, v, vip, client)
	}
	if srcMAC(f) != ServiceMAC(e.vni) || dstMAC(f) != clientMAC {
		t.Fatalf("reply MACs src=%x dst=%x, want src %x", srcMAC(f), dstMAC(f), ServiceMAC(e.vni))
	}

	for range 5 {
		if _, _, p := e.out(ProtoTCP, client, vip, pktOpts{tcpFlags: tcpACK, payload: []byte("GET /")}); p.dst != backend {
			t.Fatalf("later packet went to %v, flow is on %v", p.dst, backend)
		}
	}
	st := e.b.Stats()
	if st.DNATed != 6 || st.SNATed != 1 || st.Flows != 1 {
		t.Fatalf("stats %+v, want 6 DNATed, 1 SNATed, 1 flow", st)
	}
}

func TestBalancerSpreadsFlows(t *testing.T) {
	e := newLBEnv(t, 4096)
	bs := e.backends("web", "10.7.0.11:0", "10.7.0.12:0", "10.7.0.13:0")
	e.update([]Service{webService(e.vni)}, bs)
	count := map[netip.Addr]int{}
	for i := range 3000 {
		_, _, p := e.out(ProtoUDP, netip.AddrPortFrom(e.client, uint16(10000+i)), netip.MustParseAddrPort("10.7.0.100:53"), pktOpts{})
		count[p.dst.Addr()]++
	}
	if len(count) != 3 {
		t.Fatalf("flows went to %v, want all 3 backends", count)
	}
	for a, n := range count {
		if n < 800 || n > 1200 {
			t.Errorf("backend %v got %d of 3000 flows", a, n)
		}
	}
}

func TestBalancerPassesOtherTraffic(t *testing.T) {
	e := newLBEnv(t, 1024)
	e.update([]Service{webService(e.vni)}, e.backends("web", "10.7.0.11:0"))
	client := netip.AddrPortFrom(e.client, 40000)
	cases := map[string][]byte{
		"not a vip":   buildFrame(clientMAC, clientMAC, buildIP(t, ProtoTCP, client, netip.MustParseAddrPort("10.7.0.50:80"), pktOpts{})),
		"arp":         append(buildFrame(clientMAC, clientMAC, make([]byte, 28))[:12], 0x08, 0x06, 0, 1),
		"short":       {1, 2, 3},
		"bare header": make([]byte, packet.EthHeaderLen),
		"vlan tagged": {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x81, 0x00, 0, 1, 0x08, 0},
	}
	for name, f := range cases {
		orig := bytes.Clone(f)
		if v := e.b.Outbound(e.vni, f); v != packet.Pass || !bytes.Equal(f, orig) {
			t.Errorf("%s: Outbound verdict %v, modified %v", name, v, !bytes.Equal(f, orig))
		}
		if v := e.b.Inbound(e.vni, f); v != packet.Pass || !bytes.Equal(f, orig) {
			t.Errorf("%s: Inbound verdict %v, modified %v", name, v, !bytes.Equal(f, orig))
		}
	}
	// The same VIP address on another network is not a VIP there.
	f := buildFrame(clientMAC, clientMAC, buildIP(t, ProtoTCP, client, netip.MustParseAddrPort("10.7.0.100:80"), pktOpts{}))
	orig := bytes.Clone(f)
	if v := e.b.Outbound(e.vni+1, f); v != packet.Pass || !bytes.Equal(f, orig) {
		t.Error("VIP of network 7 was balanced on network 8")
	}
	if e.b.Stats().DNATed != 0 {
		t.Error("untouched frames counted as translated")
	}
}

func TestBalancerDrops(t *testing.T) {
	e := newLBEnv(t, 1024)
	svc := webService(e.vni)
	unhealthy := e.backends("web", "10.7.0.11:0")
	unhealthy[0].Healthy = false
	empty := Service{Name: "empty", Network: "blue", VNI: e.vni, VIP: netip.MustParseAddr("10.7.0.101"), Ports: []PortSpec{{80, ProtoTCP}}, Mode: ModeVIP}
	nomac := Service{Name: "nomac", Network: "blue", VNI: e.vni, VIP: netip.MustParseAddr("10.7.0.102"), Ports: []PortSpec{{80, ProtoTCP}}, Mode: ModeVIP}
	e.update([]Service{svc, empty, nomac}, append(unhealthy,
		Backend{Service: "nomac", Addr: netip.MustParseAddrPort("10.7.0.66:0"), Node: "n", Healthy: true}))
	client := netip.AddrPortFrom(e.client, 40000)

	frag := buildIP(t, ProtoUDP, client, netip.MustParseAddrPort("10.7.0.100:53"), pktOpts{})
	frag[6] = 0x20 // more fragments
	cases := []struct {
		name  string
		frame []byte
		want  DropReason
	}{
		{"no healthy backend", buildFrame(clientMAC, clientMAC, buildIP(t, ProtoTCP, client, netip.MustParseAddrPort("10.7.0.100:80"), pktOpts{})), DropNoBackend},
		{"no backends at all", buildFrame(clientMAC, clientMAC, buildIP(t, ProtoTCP, client, netip.MustParseAddrPort("10.7.0.101:80"), pktOpts{})), DropNoBackend},
		{"port not served", buildFrame(clientMAC, clientMAC, buildIP(t, ProtoTCP, client, netip.MustParseAddrPort("10.7.0.100:22"), pktOpts{})), DropNoPort},
		{"protocol not served", buildFrame(clientMAC, clientMAC, buildIP(t, ProtoUDP, client, netip.MustParseAddrPort("10.7.0.100:80"), pktOpts{})), DropNoPort},
		{"icmp error to vip", buildFrame(clientMAC, clientMAC, buildIP(t, ProtoICMP, client, netip.MustParseAddrPort("10.7.0.100:0"), pktOpts{icmpType: 3})), DropNoPort},
		{"backend mac unknown", buildFrame(clientMAC, clientMAC, buildIP(t, ProtoTCP, client, netip.MustParseAddrPort("10.7.0.102:80"), pktOpts{})), DropNoMAC},
		{"fragment", buildFrame(clientMAC, clientMAC, frag), DropFragment},
		{"truncated", buildFrame(clientMAC, clientMAC, buildIP(t, ProtoTCP, client, netip.MustParseAddrPort("10.7.0.100:80"), pktOpts{}))[:packet.EthHeaderLen+30], DropMalformed},
	}
	for _, tc := range cases {
		before := e.b.Stats().Drops[tc.want]
		orig := bytes.Clone(tc.frame)
		if v := e.b.Outbound(e.vni, tc.frame); v != packet.Drop {
			t.Errorf("%s: verdict %v, want Drop", tc.name, v)
			continue
		}
		if !bytes.Equal(orig, tc.frame) {
			t.Errorf("%s: dropped frame was modified", tc.name)
		}
		if got := e.b.Stats().Drops[tc.want]; got != before+1 {
			t.Errorf("%s: %v drops %d -> %d, want one more", tc.name, tc.want, before, got)
		}
	}
	if n := e.b.Stats().Flows; n != 0 {
		t.Errorf("dropped frames left %d tracked flows", n)
	}
}

// TestBalancerFlowsKeepBackends: adding backends, marking one unhealthy or
// removing others leaves every tracked flow where it was; only flows whose
// own backend was removed move.
func TestBalancerFlowsKeepBackends(t *testing.T) {
	e := newLBEnv(t, 4096)
	svc := webService(e.vni)
	bs := e.backends("web", "10.7.0.11:0", "10.7.0.12:0", "10.7.0.13:0")
	e.update([]Service{svc}, bs)
	vip := netip.MustParseAddrPort("10.7.0.100:80")
	const flows = 600
	first := make([]netip.AddrPort, flows)
	send := func(i int) netip.AddrPort {
		_, _, p := e.out(ProtoTCP, netip.AddrPortFrom(e.client, uint16(20000+i)), vip, pktOpts{tcpFlags: tcpACK})
		return p.dst
	}
	for i := range first {
		first[i] = send(i)
	}

	// Two more backends arrive: Maglev would now send some flows to them.
	more := append(bs, e.backends("web", "10.7.0.14:0", "10.7.0.15:0")...)
	e.update([]Service{svc}, more)
	for i := range first {
		if got := send(i); got != first[i] {
			t.Fatalf("after adding backends flow %d moved %v -> %v", i, first[i], got)
		}
	}

	// 10.7.0.12 turns unhealthy: its flows stay, new flows avoid it.
	more[1].Healthy = false
	e.update([]Service{svc}, more)
	for i := range first {
		if got := send(i); got != first[i] {
			t.Fatalf("after a health change flow %d moved %v -> %v", i, first[i], got)
		}
	}
	for i := flows; i < 2*flows; i++ {
		if got := send(i); got.Addr() == bs[1].Addr.Addr() {
			t.Fatalf("new flow %d picked unhealthy backend %v", i, got)
		}
	}

	// 10.7.0.13 is removed: only its flows move, each to a live backend.
	removed := bs[2].Addr.Addr()
	e.update([]Service{svc}, []Backend{more[0], more[1], more[3], more[4]})
	moved := 0
	for i := range first {
		got := send(i)
		switch {
		case first[i].Addr() == removed:
			moved++
			if got.Addr() == removed || got.Addr() == bs[1].Addr.Addr() {
				t.Fatalf("flow %d of the removed backend went to %v", i, got)
			}
		case got != first[i]:
			t.Fatalf("flow %d moved %v -> %v though its backend stayed", i, first[i], got)
		}
	}
	if moved == 0 {
		t.Fatal("no flow was on the removed backend; the test proves nothing")
	}
}

func TestBalancerTargetPorts(t *testing.T) {
	e := newLBEnv(t, 1024)
	single := Service{Name: "api", Network: "blue", VNI: e.vni, VIP: netip.MustParseAddr("10.7.0.110"), Ports: []PortSpec{{443, ProtoTCP}}, Mode: ModeVIP}
	multi := webService(e.vni)
	e.update([]Service{single, multi}, append(e.backends("api", "10.7.0.21:8443"), e.backends("web", "10.7.0.22:0")...))
	client := netip.AddrPortFrom(e.client, 50000)
	for _, tc := range []struct {
		proto     Proto
		vip, want string
	}{
		{ProtoTCP, "10.7.0.110:443", "10.7.0.21:8443"},
		{ProtoTCP, "10.7.0.100:80", "10.7.0.22:80"},
		{ProtoUDP, "10.7.0.100:53", "10.7.0.22:53"},
	} {
		vip := netip.MustParseAddrPort(tc.vip)
		_, _, p := e.out(tc.proto, client, vip, pktOpts{})
		if p.dst.String() != tc.want {
			t.Errorf("%v %v translated to %v, want %v", tc.proto, vip, p.dst, tc.want)
		}
		if _, _, r := e.in(tc.proto, p.dst, client, pktOpts{}); r.src != vip {
			t.Errorf("reply from %v came back from %v, want %v", p.dst, r.src, vip)
		}
	}
}

func TestBalancerIPv6AndEcho(t *testing.T) {
	e := newLBEnv(t, 1024)
	svc6 := Service{Name: "v6", Network: "blue", VNI: e.vni, VIP: netip.MustParseAddr("fd07::100"), Ports: []PortSpec{{80, ProtoTCP}}, Mode: ModeVIP}
	svc4 := webService(e.vni)
	e.update([]Service{svc6, svc4}, append(e.backends("v6", "[fd07::11]:0"), e.backends("web", "10.7.0.11:0")...))
	for _, tc := range []struct {
		name        string
		proto       Proto
		client, vip string
		backend     string
		echoReply   bool
	}{
		{name: "tcp6", proto: ProtoTCP, client: "[fd07::2]:40000", vip: "[fd07::100]:80", backend: "[fd07::11]:80"},
		{name: "ping6", proto: ProtoICMPv6, client: "[fd07::2]:77", vip: "[fd07::100]:77", backend: "[fd07::11]:77", echoReply: true},
		{name: "ping4", proto: ProtoICMP, client: "10.7.0.2:77", vip: "10.7.0.100:77", backend: "10.7.0.11:77", echoReply: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, vip := netip.MustParseAddrPort(tc.client), netip.MustParseAddrPort(tc.vip)
			v, _, p := e.out(tc.proto, client, vip, pktOpts{})
			if v != packet.Pass || p.dst.String() != tc.backend {
				t.Fatalf("translated to %v (%v), want %v", p.dst, v, tc.backend)
			}
			_, f, r := e.in(tc.proto, p.dst, client, pktOpts{icmpReply: tc.echoReply})
			if r.src != vip || srcMAC(f) != ServiceMAC(e.vni) {
				t.Fatalf("reply source %v, want %v", r.src, vip)
			}
		})
	}
}

func TestBalancerFlowExpiry(t *testing.T) {
	e := newLBEnv(t, 1024)
	e.update([]Service{webService(e.vni)}, e.backends("web", "10.7.0.11:0"))
	client := netip.AddrPortFrom(e.client, 40000)
	_, _, p := e.out(ProtoUDP, client, netip.MustParseAddrPort("10.7.0.100:53"), pktOpts{})
	e.clock.advance(UDPTimeout - time.Second)
	e.b.Sweep()
	if n := e.b.Stats().Flows; n != 1 {
		t.Fatalf("flows = %d before the UDP timeout, want 1", n)
	}
	e.clock.advance(time.Second)
	e.b.Sweep()
	if n := e.b.Stats().Flows; n != 0 {
		t.Fatalf("flows = %d after the UDP timeout, want 0", n)
	}
	// A late reply to the forgotten flow is not translated.
	f := buildFrame(clientMAC, backendMAC(p.dst.Addr()), buildIP(t, ProtoUDP, p.dst, client, pktOpts{}))
	orig := bytes.Clone(f)
	if v := e.b.Inbound(e.vni, f); v != packet.Pass || !bytes.Equal(f, orig) {
		t.Fatal("reply to an expired flow was translated")
	}
}

func TestBalancerEvictionCounted(t *testing.T) {
	e := newLBEnv(t, 16)
	e.update([]Service{webService(e.vni)}, e.backends("web", "10.7.0.11:0", "10.7.0.12:0"))
	for i := range 40 {
		if v, _, _ := e.out(ProtoTCP, netip.AddrPortFrom(e.client, uint16(1000+i)), netip.MustParseAddrPort("10.7.0.100:80"), pktOpts{tcpFlags: tcpSYN}); v != packet.Pass {
			t.Fatalf("flow %d dropped", i)
		}
	}
	st := e.b.Stats()
	if st.Flows != 16 || st.Evictions != 24 {
		t.Fatalf("flows %d evictions %d, want 16 and 24", st.Flows, st.Evictions)
	}
}

func TestBalancerLookupVIPAndServiceMAC(t *testing.T) {
	e := newLBEnv(t, 1024)
	dnsrr := Service{Name: "rr", Network: "blue", VNI: e.vni, Mode: ModeDNSRR}
	e.update([]Service{webService(e.vni), dnsrr}, nil)
	if mac, ok := e.b.LookupVIP(e.vni, netip.MustParseAddr("10.7.0.100")); !ok || mac != ServiceMAC(e.vni) {
		t.Errorf("VIP looked up as %x, %t; want ServiceMAC %x", mac, ok, ServiceMAC(e.vni))
	}
	if e.isVIP(e.vni+1, netip.MustParseAddr("10.7.0.100")) || e.isVIP(e.vni, netip.MustParseAddr("10.7.0.11")) {
		t.Error("non-VIP reported as VIP")
	}
	seen := map[[6]byte]uint32{}
	for _, vni := range []uint32{1, 2, 255, 256, 1 << 16, 1<<24 - 1} {
		m := ServiceMAC(vni)
		if m[0]&0x01 != 0 || m[0]&0x02 == 0 {
			t.Errorf("ServiceMAC(%d) = %x is not locally administered unicast", vni, m)
		}
		if other, dup := seen[m]; dup {
			t.Errorf("ServiceMAC(%d) = ServiceMAC(%d)", vni, other)
		}
		seen[m] = vni
		if ServiceMAC(vni) != m {
			t.Error("ServiceMAC is not deterministic")
		}
	}
}

func TestBalancerUpdateSkipsBadEntries(t *testing.T) {
	e := newLBEnv(t, 1024)
	good := webService(e.vni)
	clash := webService(e.vni)
	clash.Name = "zclash" // same VIP as web, and sorts after it
	bad := Service{Name: "Bad_Name", Network: "blue", VNI: e.vni, VIP: netip.MustParseAddr("10.7.0.120"), Ports: []PortSpec{{80, ProtoTCP}}, Mode: ModeVIP}
	bs := e.backends("web", "10.7.0.11:0", "[fd07::1]:0")
	err := e.b.Update([]Service{bad, good, clash}, bs)
	if err == nil {
		t.Fatal("Update reported nothing wrong")
	}
	for _, want := range []string{`"Bad_Name"`, `"zclash"`, "fd07::1", "IP family"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if !e.isVIP(e.vni, good.VIP) {
		t.Fatal("the valid service was not applied")
	}
	if e.isVIP(e.vni, bad.VIP) {
		t.Fatal("the invalid service was applied")
	}
	_, _, p := e.out(ProtoTCP, netip.AddrPortFrom(e.client, 1), netip.MustParseAddrPort("10.7.0.100:80"), pktOpts{})
	if p.dst.Addr() != netip.MustParseAddr("10.7.0.11") {
		t.Fatalf("flow went to %v, want the one valid backend", p.dst)
	}
}

func TestNewBalancerConfigErrors(t *testing.T) {
	for _, mod := range []func(*BalancerConfig){
		func(c *BalancerConfig) { c.MACs = nil },
		func(c *BalancerConfig) { c.ConntrackSize = 0 },
		func(c *BalancerConfig) { c.ConntrackSize = MaxConntrackSize + 1 },
		func(c *BalancerConfig) { c.MaglevSize = 100 },
	} {
		cfg := DefaultBalancerConfig()
		cfg.MACs = &macTable{}
		mod(&cfg)
		if _, err := NewBalancer(cfg); err == nil {
			t.Errorf("NewBalancer(%+v) succeeded", cfg)
		}
	}
}

// TestBalancerConcurrentUpdates runs the data path while the service state
// changes underneath it (run with -race).
func TestBalancerConcurrentUpdates(t *testing.T) {
	e := newLBEnv(t, 4096)
	svc := webService(e.vni)
	all := e.backends("web", "10.7.0.11:0", "10.7.0.12:0", "10.7.0.13:0")
	e.update([]Service{svc}, all)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			if err := e.b.Update([]Service{svc}, all[:1+i%3]); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	vip := netip.MustParseAddrPort("10.7.0.100:80")
	tmpl := buildFrame(ServiceMAC(e.vni), clientMAC, buildIP(t, ProtoTCP, netip.AddrPortFrom(e.client, 1), vip, pktOpts{tcpFlags: tcpACK}))
	f := make([]byte, len(tmpl))
	for i := 0; ; i++ {
		select {
		case <-done:
			return
		default:
		}
		copy(f, tmpl)
		f[packet.EthHeaderLen+20] = byte(i % 50) // vary the source port
		if v := e.b.Outbound(e.vni, f); v != packet.Pass {
			t.Fatalf("frame %d dropped", i)
		}
	}
}

func ExampleBalancer() {
	macs := &macTable{}
	macs.set(7, netip.MustParseAddr("10.7.0.11"), [6]byte{2, 0, 0, 0, 0, 0x11})
	cfg := DefaultBalancerConfig()
	cfg.MACs = macs
	b, _ := NewBalancer(cfg)
	err := b.Update(
		[]Service{{Name: "web", Network: "blue", VNI: 7, VIP: netip.MustParseAddr("10.7.0.100"), Ports: []PortSpec{{80, ProtoTCP}}, Mode: ModeVIP}},
		[]Backend{{Service: "web", Addr: netip.MustParseAddrPort("10.7.0.11:8080"), Node: "n1", Healthy: true}},
	)
	mac, ok := b.LookupVIP(7, netip.MustParseAddr("10.7.0.100"))
	fmt.Println(err, ok, mac == ServiceMAC(7))
	// Output: <nil> true true
}

// TestDirectConnectionReusingATupleIsNotRewritten: a client that talked to
// a backend through the VIP and then opens a direct connection from the
// same port must get the backend's replies untranslated.
func TestDirectConnectionReusingATupleIsNotRewritten(t *testing.T) {
	e := newLBEnv(t, 1024)
	e.update([]Service{webService(e.vni)}, e.backends("web", "10.7.0.11:0", "10.7.0.12:0", "10.7.0.13:0"))
	client := netip.AddrPortFrom(e.client, 40000)
	_, _, p := e.out(ProtoTCP, client, netip.MustParseAddrPort("10.7.0.100:80"), pktOpts{tcpFlags: tcpSYN})
	backend := p.dst
	direct := buildFrame(backendMAC(backend.Addr()), clientMAC, buildIP(t, ProtoTCP, client, backend, pktOpts{tcpFlags: tcpSYN}))
	if e.b.Outbound(e.vni, direct) != packet.Pass {
		t.Fatal("direct SYN dropped")
	}
	_, _, q := e.in(ProtoTCP, backend, client, pktOpts{tcpFlags: tcpSYN | tcpACK})
	if q.src != backend {
		t.Fatalf("the direct connection's reply was rewritten to %v", q.src)
	}
	if got := e.b.Stats().Reused; got != 1 {
		t.Fatalf("reused = %d", got)
	}
}
