package lb

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"
)

// fakeDialer answers TCP dials from a table of up/down addresses.
type fakeDialer struct {
	mu    sync.Mutex
	up    map[string]bool
	dials int
	addrs map[string]int // dials per address
	block bool           // hang until the context ends
	// If gate is set, each dial announces itself on arrived and waits
	// for a release, so a test can hold a probe round mid-way.
	gate    bool
	arrived chan struct{}
	release chan struct{}
}

// hold waits until a probe is dialling and holds it there.
func (d *fakeDialer) hold(t *testing.T) {
	t.Helper()
	select {
	case <-d.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("no probe started")
	}
}

// proceed lets the held probe finish.
func (d *fakeDialer) proceed() { d.release <- struct{}{} }

func (d *fakeDialer) set(addr string, up bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.up == nil {
		d.up = map[string]bool{}
	}
	d.up[addr] = up
}

func (d *fakeDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.dials++
	if d.addrs == nil {
		d.addrs = map[string]int{}
	}
	d.addrs[addr]++
	up, block, gate := d.up[addr], d.block, d.gate
	d.mu.Unlock()
	if gate {
		d.arrived <- struct{}{}
		<-d.release
	}
	if block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if !up {
		return nil, errors.New("connection refused")
	}
	a, b := net.Pipe()
	b.Close()
	return a, nil
}

// manualTicker hands out one channel the test ticks by hand.
type manualTicker struct{ c chan time.Time }

func (m *manualTicker) new(time.Duration) (<-chan time.Time, func()) { return m.c, func() {} }

// tick delivers one tick. The checker receives ticks only between rounds,
// so when tick returns the previous round has finished.
func (m *manualTicker) tick(t *testing.T) {
	t.Helper()
	select {
	case m.c <- time.Now():
	case <-time.After(10 * time.Second):
		t.Fatal("checker did not take a tick")
	}
}

type published chan Backend

func (p published) next(t *testing.T) Backend {
	t.Helper()
	select {
	case b := <-p:
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("no health change published")
	}
	return Backend{}
}

func (p published) none(t *testing.T) {
	t.Helper()
	select {
	case b := <-p:
		t.Fatalf("unexpected publish %+v", b)
	default:
	}
}

func target(node, svc, addr string) HealthTarget {
	ap := netip.MustParseAddrPort(addr)
	return HealthTarget{Backend: Backend{Service: svc, Addr: ap, Node: node}, Probe: ap, Proto: ProtoTCP}
}

func newFakeChecker(t *testing.T, rise, fall int) (*HealthChecker, *fakeDialer, *manualTicker, published) {
	t.Helper()
	d := &fakeDialer{gate: true, arrived: make(chan struct{}), release: make(chan struct{})}
	tk := &manualTicker{c: make(chan time.Time)}
	pub := make(published, 16)
	cfg := DefaultHealthConfig()
	cfg.Node, cfg.Dialer, cfg.NewTicker, cfg.Rise, cfg.Fall = "me", d, tk.new, rise, fall
	cfg.Publish = func(b Backend) { pub <- b }
	h, err := NewHealthChecker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h, d, tk, pub
}

// TestHealthRiseFall holds each probe round mid-way: while probe k waits,
// rounds before k have finished, so the test can check exactly after which
// round a change is published. Fall 3: the third failure flips the state;
// Rise 2: the second success does.
func TestHealthRiseFall(t *testing.T) {
	h, d, tk, pub := newFakeChecker(t, 2, 3)
	// round runs one probe round; check runs while it is held, after all
	// earlier rounds have finished.
	round := func(check func()) {
		tk.tick(t)
		d.hold(t)
		check()
		d.proceed()
	}
	nothing := func() { pub.none(t) }
	d.set("10.0.0.1:80", true)
	h.SetTargets([]HealthTarget{target("me", "web", "10.0.0.1:80"), target("other", "web", "10.0.0.2:80")})
	d.hold(t)
	d.proceed()
	if b := pub.next(t); !b.Healthy || b.Addr.String() != "10.0.0.1:80" {
		t.Fatalf("first probe published %+v, want 10.0.0.1:80 healthy", b)
	}

	d.set("10.0.0.1:80", false)
	round(nothing) // failure 1
	round(nothing) // failure 2; failure 1 published nothing
	round(nothing) // failure 3; failure 2 published nothing
	round(func() { // failure 3 flipped the state
		if b := pub.next(t); b.Healthy {
			t.Fatalf("after 3 failures published %+v, want unhealthy", b)
		}
	})
	d.set("10.0.0.1:80", true)
	round(nothing) // success 1; the 4th failure published nothing
	round(nothing) // success 2; success 1 published nothing
	round(func() { // success 2 flipped it back
		if b := pub.next(t); !b.Healthy {
			t.Fatalf("after 2 successes published %+v, want healthy", b)
		}
	})
	round(nothing)

	d.mu.Lock()
	defer d.mu.Unlock()
	if d.addrs["10.0.0.2:80"] != 0 {
		t.Error("probed another node's backend")
	}
	if d.addrs["10.0.0.1:80"] != 9 {
		t.Errorf("local backend probed %d times, want 9 (1 initial + 8 rounds)", d.addrs["10.0.0.1:80"])
	}
}

func TestHealthForgetsRemovedTargets(t *testing.T) {
	h, d, tk, pub := newFakeChecker(t, 1, 1)
	d.set("10.0.0.1:80", true)
	h.SetTargets([]HealthTarget{target("me", "web", "10.0.0.1:80")})
	d.hold(t)
	d.proceed()
	pub.next(t)
	h.SetTargets(nil)
	d.set("10.0.0.1:80", false)
	tk.tick(t)
	tk.tick(t)
	pub.none(t)
}

func TestHealthCloseCancelsProbes(t *testing.T) {
	before := runtime.NumGoroutine()
	d := &fakeDialer{block: true}
	cfg := DefaultHealthConfig()
	cfg.Node, cfg.Dialer, cfg.Timeout, cfg.Interval = "me", d, time.Hour, time.Hour
	cfg.Publish = func(Backend) { t.Error("published while closing") }
	h, err := NewHealthChecker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.SetTargets([]HealthTarget{target("me", "web", "10.0.0.1:80"), target("me", "web", "10.0.0.2:80")})
	deadline := time.Now().Add(10 * time.Second)
	for {
		d.mu.Lock()
		n := d.dials
		d.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d probes started, want 2", n)
		}
		runtime.Gosched()
	}
	start := time.Now()
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("Close waited for the probe timeout")
	}
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Close, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(time.Millisecond) // polling interval, bounded by the deadline
	}
}

// realChecker probes real sockets on 127.0.0.1 every 50 ms.
func realChecker(t *testing.T) (*HealthChecker, published) {
	t.Helper()
	pub := make(published, 64)
	cfg := DefaultHealthConfig()
	cfg.Node = "me"
	cfg.Interval, cfg.Timeout = 50*time.Millisecond, 40*time.Millisecond
	cfg.Rise, cfg.Fall = 2, 2
	cfg.Publish = func(b Backend) { pub <- b }
	h, err := NewHealthChecker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h, pub
}

func TestHealthTCPListener(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	h, pub := realChecker(t)
	h.SetTargets([]HealthTarget{target("me", "web", addr)})
	if b := pub.next(t); !b.Healthy {
		t.Fatalf("open listener published %+v", b)
	}
	l.Close()
	if b := pub.next(t); b.Healthy {
		t.Fatalf("closed listener published %+v", b)
	}
	l, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("reopening %s: %v", addr, err)
	}
	defer l.Close()
	if b := pub.next(t); !b.Healthy {
		t.Fatalf("reopened listener published %+v", b)
	}
}

func TestHealthUDPListener(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	h, pub := realChecker(t)
	tg := target("me", "dns", addr)
	tg.Proto = ProtoUDP
	h.SetTargets([]HealthTarget{tg})
	if b := pub.next(t); !b.Healthy {
		t.Fatalf("open UDP socket published %+v", b)
	}
	pc.Close()
	if b := pub.next(t); b.Healthy {
		t.Fatalf("closed UDP socket published %+v", b)
	}
	pc, err = net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("reopening %s: %v", addr, err)
	}
	defer pc.Close()
	if b := pub.next(t); !b.Healthy {
		t.Fatalf("reopened UDP socket published %+v", b)
	}
}

func TestHealthTargets(t *testing.T) {
	svcs := []Service{
		{Name: "web", Ports: []PortSpec{{53, ProtoUDP}, {80, ProtoTCP}}},
		{Name: "dns", Ports: []PortSpec{{53, ProtoUDP}}},
		{Name: "api", Ports: []PortSpec{{443, ProtoTCP}}},
		{Name: "rr"},
	}
	bs := []Backend{
		{Service: "web", Addr: netip.MustParseAddrPort("10.0.0.1:0"), Node: "me"},
		{Service: "dns", Addr: netip.MustParseAddrPort("10.0.0.2:0"), Node: "me"},
		{Service: "api", Addr: netip.MustParseAddrPort("10.0.0.3:8443"), Node: "me"},
		{Service: "api", Addr: netip.MustParseAddrPort("10.0.0.4:8443"), Node: "other"},
		{Service: "rr", Addr: netip.MustParseAddrPort("10.0.0.5:0"), Node: "me"},
		{Service: "gone", Addr: netip.MustParseAddrPort("10.0.0.6:0"), Node: "me"},
	}
	got := HealthTargets("me", svcs, bs)
	want := []string{"10.0.0.1:80/tcp", "10.0.0.2:53/udp", "10.0.0.3:8443/tcp"}
	if len(got) != len(want) {
		t.Fatalf("targets %+v, want %v", got, want)
	}
	for i, tg := range got {
		if s := tg.Probe.String() + "/" + tg.Proto.String(); s != want[i] {
			t.Errorf("target %d = %s, want %s", i, s, want[i])
		}
	}
}

func TestHealthConfigErrors(t *testing.T) {
	for _, mod := range []func(*HealthConfig){
		func(c *HealthConfig) { c.Node = "" },
		func(c *HealthConfig) { c.Publish = nil },
		func(c *HealthConfig) { c.Interval = 0 },
		func(c *HealthConfig) { c.Timeout = 3 * time.Second },
		func(c *HealthConfig) { c.Rise = 0 },
		func(c *HealthConfig) { c.Dialer = nil },
	} {
		c := DefaultHealthConfig()
		c.Node, c.Publish = "me", func(Backend) {}
		mod(&c)
		if _, err := NewHealthChecker(c); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
}
