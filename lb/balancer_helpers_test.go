package lb

import (
	"bytes"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"meshnet.dev/meshnet/internal/packet"
)

// macTable is a working MACResolver for tests.
type macTable struct {
	mu   sync.RWMutex
	macs map[vipKey][6]byte
}

func (m *macTable) EndpointMAC(vni uint32, ip netip.Addr) (packet.MAC, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	mac, ok := m.macs[vipKey{vni, ip}]
	return mac, ok
}

func (m *macTable) set(vni uint32, ip netip.Addr, mac [6]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.macs == nil {
		m.macs = map[vipKey][6]byte{}
	}
	m.macs[vipKey{vni, ip}] = mac
}

// isVIP reports whether the balancer knows ip as a VIP of network vni.
func (e *lbEnv) isVIP(vni uint32, ip netip.Addr) bool {
	_, ok := e.b.LookupVIP(vni, ip)
	return ok
}

// manualClock only moves when told to.
type manualClock struct{ ns atomic.Int64 }

func (c *manualClock) Now() time.Time          { return time.Unix(1700000000, c.ns.Load()) }
func (c *manualClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// lbEnv is one network (VNI 7) with a client and a few backends.
type lbEnv struct {
	t      testing.TB
	b      *Balancer
	macs   *macTable
	clock  *manualClock
	vni    uint32
	client netip.Addr
}

// clientMAC is the test client's MAC address.
var clientMAC = [6]byte{0x02, 0, 0, 0, 0, 0x01}

func backendMAC(ip netip.Addr) [6]byte {
	a := ip.As16()
	return [6]byte{0x02, 0xbe, a[12], a[13], a[14], a[15]}
}

func newLBEnv(t testing.TB, conntrackSize int) *lbEnv {
	t.Helper()
	e := &lbEnv{t: t, macs: &macTable{}, clock: &manualClock{}, vni: 7, client: netip.MustParseAddr("10.7.0.2")}
	cfg := DefaultBalancerConfig()
	cfg.MACs, cfg.Now, cfg.ConntrackSize = e.macs, e.clock.Now, conntrackSize
	b, err := NewBalancer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.b = b
	return e
}

// backends makes healthy backends of service svc at the given addresses
// (with their MACs known).
func (e *lbEnv) backends(svc string, addrs ...string) []Backend {
	var bs []Backend
	for _, a := range addrs {
		ap := netip.MustParseAddrPort(a)
		e.macs.set(e.vni, ap.Addr(), backendMAC(ap.Addr()))
		bs = append(bs, Backend{Service: svc, Addr: ap, Node: "node-1", Healthy: true})
	}
	return bs
}

func (e *lbEnv) update(svcs []Service, bs []Backend) {
	e.t.Helper()
	if err := e.b.Update(svcs, bs); err != nil {
		e.t.Fatal(err)
	}
}

// out sends a client frame through Outbound and returns the verdict and
// the parsed result.
func (e *lbEnv) out(proto Proto, src, dst netip.AddrPort, o pktOpts) (packet.Verdict, []byte, ipPacket) {
	e.t.Helper()
	f := buildFrame(ServiceMAC(e.vni), clientMAC, buildIP(e.t, proto, src, dst, o))
	orig := bytes.Clone(f)
	v := e.b.Outbound(e.vni, f)
	var p ipPacket
	if v == packet.Drop {
		if !bytes.Equal(f, orig) {
			e.t.Fatal("dropped frame was modified")
		}
		return v, f, p
	}
	if err := parseIP(f[packet.EthHeaderLen:], &p); err != nil {
		e.t.Fatalf("translated frame does not parse: %v", err)
	}
	if st := checkChecksums(f[packet.EthHeaderLen:], &p); !st.ip || !st.l4 {
		e.t.Fatalf("checksums after Outbound: ip=%v l4=%v", st.ip, st.l4)
	}
	return v, f, p
}

// in sends a backend's reply through Inbound.
func (e *lbEnv) in(proto Proto, src, dst netip.AddrPort, o pktOpts) (packet.Verdict, []byte, ipPacket) {
	e.t.Helper()
	f := buildFrame(clientMAC, backendMAC(src.Addr()), buildIP(e.t, proto, src, dst, o))
	v := e.b.Inbound(e.vni, f)
	var p ipPacket
	if err := parseIP(f[packet.EthHeaderLen:], &p); err != nil {
		e.t.Fatalf("frame after Inbound does not parse: %v", err)
	}
	if st := checkChecksums(f[packet.EthHeaderLen:], &p); !st.ip || !st.l4 {
		e.t.Fatalf("checksums after Inbound: ip=%v l4=%v", st.ip, st.l4)
	}
	return v, f, p
}

func dstMAC(f []byte) [6]byte { return [6]byte(f[0:6]) }
func srcMAC(f []byte) [6]byte { return [6]byte(f[6:12]) }
