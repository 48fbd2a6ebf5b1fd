package gossip

import (
	"bytes"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"meshnet.dev/meshnet/gossip/wire"
)

func TestClassifyNAT(t *testing.T) {
	local := netip.MustParseAddrPort("10.0.0.2:7946")
	pub := netip.MustParseAddrPort("203.0.113.9:7946")
	at := time.Unix(1e9, 0)
	obs := func(observer, mapped string) Observation {
		return Observation{Observer: netip.MustParseAddrPort(observer), Mapped: netip.MustParseAddrPort(mapped), At: at}
	}
	for _, c := range []struct {
		name      string
		obs       []Observation
		want      Mapping
		behindNAT bool
		public    netip.AddrPort
	}{
		{"nobody answered", nil, MappingUnknown, false, netip.AddrPort{}},
		{"seen as itself", []Observation{obs("198.51.100.1:7946", "10.0.0.2:7946")}, MappingNone, false, local},
		{"one observer, translated", []Observation{obs("198.51.100.1:7946", "203.0.113.9:7946")}, MappingUnknown, true, netip.AddrPort{}},
		{"two observers agree", []Observation{obs("198.51.100.1:7946", "203.0.113.9:7946"), obs("198.51.100.2:7946", "203.0.113.9:7946")}, MappingIndependent, true, pub},
		{"two ports on one observer address do not make two observers", []Observation{obs("198.51.100.1:7946", "203.0.113.9:7946"), obs("198.51.100.1:7947", "203.0.113.9:7946")}, MappingUnknown, true, netip.AddrPort{}},
		{"ports differ", []Observation{obs("198.51.100.1:7946", "203.0.113.9:40001"), obs("198.51.100.2:7946", "203.0.113.9:40002")}, MappingDependent, true, netip.AddrPort{}},
		{"a neighbour sees it directly, the rest through a cone", []Observation{obs("10.0.0.3:7946", "10.0.0.2:7946"), obs("198.51.100.1:7946", "203.0.113.9:7946"), obs("198.51.100.2:7946", "203.0.113.9:7946")}, MappingIndependent, true, pub},
	} {
		r := classifyNAT(local, c.obs)
		if r.Mapping != c.want || r.BehindNAT != c.behindNAT || r.Public != c.public || r.Local != local || len(r.Observations) != len(c.obs) {
			t.Errorf("%s: got %s behind=%t public=%s, want %s behind=%t public=%s", c.name, r.Mapping, r.BehindNAT, r.Public, c.want, c.behindNAT, c.public)
		}
	}
}

// pathNet connects observers by address in memory, recording what each
// one sends.
type pathNet struct {
	mu    sync.Mutex
	nodes map[netip.AddrPort]*observer
	// nat rewrites a sender's address as the receiver sees it; answers
	// to the rewritten address reach the sender.
	nat func(from, to netip.AddrPort) netip.AddrPort
}

func (n *pathNet) add(t *testing.T, addr string, keys [][]byte, drops map[dropReason]int) *observer {
	ring, err := memberlist.NewKeyring(keys, keys[0])
	if err != nil {
		t.Fatal(err)
	}
	self := netip.MustParseAddrPort(addr)
	o := newObserver(observerConfig{seal: newPathSealer(ring), local: self, advertised: self, now: time.Now,
		drop: func(r dropReason) { drops[r]++ }})
	o.send = func(b []byte, to netip.AddrPort) error {
		n.mu.Lock()
		dst := n.nodes[to]
		from := self
		if n.nat != nil {
			from = n.nat(self, to)
			n.nodes[from] = n.nodes[self] // the mapping now exists both ways
		}
		n.mu.Unlock()
		if dst == nil {
			return fmt.Errorf("no node at %s", to)
		}
		dst.handle(b, from)
		return nil
	}
	n.mu.Lock()
	n.nodes[self] = o
	n.mu.Unlock()
	return o
}

func TestObserverLearnsMapping(t *testing.T) {
	keys := [][]byte{bytes.Repeat([]byte{7}, 32)}
	public := netip.MustParseAddrPort("203.0.113.9:7946")
	laptop := "10.0.0.2:7946"
	for _, symmetric := range []bool{false, true} {
		next := uint16(40000)
		net := &pathNet{nodes: map[netip.AddrPort]*observer{}, nat: func(from, to netip.AddrPort) netip.AddrPort {
			if from.String() != laptop {
				return from
			}
			if symmetric {
				next++
				return netip.AddrPortFrom(public.Addr(), next)
			}
			return public
		}}
		drops := map[dropReason]int{}
		l := net.add(t, laptop, keys, drops)
		net.add(t, "198.51.100.1:7946", keys, drops)
		net.add(t, "198.51.100.2:7946", keys, drops)
		l.ask([]netip.AddrPort{netip.MustParseAddrPort("198.51.100.1:7946"), netip.MustParseAddrPort("198.51.100.2:7946")})
		r := l.current()
		want := MappingIndependent
		if symmetric {
			want = MappingDependent
		}
		if r.Mapping != want || !r.BehindNAT || len(r.Observations) != 2 || len(drops) != 0 {
			t.Fatalf("symmetric=%t: %+v, drops %v", symmetric, r, drops)
		}
	}
}

func TestObserverRefusesWhatItDidNotAsk(t *testing.T) {
	keys := [][]byte{bytes.Repeat([]byte{7}, 32)}
	drops := map[dropReason]int{}
	net := &pathNet{nodes: map[netip.AddrPort]*observer{}}
	o := net.add(t, "10.0.0.2:7946", keys, drops)
	peer := netip.MustParseAddrPort("198.51.100.1:7946")
	ring, _ := memberlist.NewKeyring(keys, keys[0])
	other, _ := memberlist.NewKeyring([][]byte{bytes.Repeat([]byte{8}, 32)}, bytes.Repeat([]byte{8}, 32))
	sealWith := func(ring *memberlist.Keyring, p wire.PathBody) []byte {
		b, err := newPathSealer(ring).seal(nil, wire.AppendPathBody(nil, p))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	forged := wire.PathBody{Kind: wire.ObserveReply, ID: 42, Addr: netip.MustParseAddrPort("192.0.2.66:1")}

	o.handle(sealWith(ring, forged), peer) // never asked
	o.handle(sealWith(other, forged), peer)
	o.handle([]byte{wire.PathMsg, 1, 2, 3}, peer)
	b := sealWith(ring, forged)
	b[len(b)-1] ^= 1 // tampered
	o.handle(b, peer)
	o.handle(sealWith(ring, wire.PathBody{Kind: 9, ID: 1, Addr: peer}), peer)

	// An answer to a real question, but from another address.
	o.ask([]netip.AddrPort{peer}) // nobody there: the request goes nowhere
	var id uint64
	o.mu.Lock()
	for k := range o.pending {
		id = k
	}
	o.mu.Unlock()
	forged.ID = id
	o.handle(sealWith(ring, forged), netip.MustParseAddrPort("198.51.100.99:7946"))

	if r := o.current(); len(r.Observations) != 0 || r.Mapping != MappingUnknown {
		t.Fatalf("state changed: %+v", r)
	}
	if drops[dropUnsolicited] != 2 || drops[dropUndecryptable] != 3 || drops[dropMalformed] != 1 {
		t.Fatalf("drops %v", drops)
	}
	// The same answer from the address asked counts.
	o.handle(sealWith(ring, forged), peer)
	if r := o.current(); len(r.Observations) != 1 || !r.BehindNAT {
		t.Fatalf("answer not taken: %+v", r)
	}
}

func TestObserverAnswersAtBoundedRate(t *testing.T) {
	keys := [][]byte{bytes.Repeat([]byte{7}, 32)}
	drops := map[dropReason]int{}
	ring, _ := memberlist.NewKeyring(keys, keys[0])
	sent := 0
	self := netip.MustParseAddrPort("10.0.0.2:7946")
	o := newObserver(observerConfig{seal: newPathSealer(ring), send: func([]byte, netip.AddrPort) error { sent++; return nil },
		local: self, advertised: self, now: time.Now, drop: func(r dropReason) { drops[r]++ }})
	req, _ := newPathSealer(ring).seal(nil, wire.AppendPathBody(nil, wire.PathBody{Kind: wire.ObserveRequest, ID: 1, Addr: netip.MustParseAddrPort("198.51.100.1:7946")}))
	for range 3 * observeReplyRate {
		o.handle(req, netip.MustParseAddrPort("198.51.100.1:7946"))
	}
	if sent < observeReplyRate || sent > observeReplyRate+10 || drops[dropRateLimited] == 0 {
		t.Fatalf("%d answers sent, %d refused", sent, drops[dropRateLimited])
	}
}

// Over real sockets, members on loopback see each other where they
// advertise: no NAT.
func TestObserveRealSockets(t *testing.T) {
	keys := [][]byte{bytes.Repeat([]byte{1}, 32)}
	var nodes []*DB
	for i := range 3 {
		cfg := DefaultConfig()
		cfg.Name = fmt.Sprintf("mngsp-obs%d", i)
		cfg.BindAddr, cfg.BindPort = "127.0.0.1", 0
		cfg.Keys, cfg.PrimaryKey = keys, 0
		cfg.Tune = fastMemberlist
		cfg.Logger = testLogger().With("node", cfg.Name)
		d, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Shutdown() })
		nodes = append(nodes, d)
	}
	if r := nodes[0].NAT(); r.Mapping != MappingUnknown || !r.Local.IsValid() {
		t.Fatalf("before joining: %+v", r)
	}
	seed := nodes[0].NAT().Local.String()
	for _, d := range nodes[1:] {
		if _, err := d.Join([]string{seed}); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range nodes {
		waitFor(t, 10*time.Second, func() error {
			if r := d.NAT(); r.Mapping != MappingNone || r.BehindNAT || r.Public != r.Local || len(r.Observations) == 0 {
				return fmt.Errorf("%s: %+v", d.LocalName(), r)
			}
			return nil
		})
	}
}

// A node about to join asks the seeds where it comes from; a seed that
// holds the keys answers, one that does not stays silent.
func TestDiscoverAsksSeeds(t *testing.T) {
	keys := [][]byte{bytes.Repeat([]byte{1}, 32)}
	seed := func(keys [][]byte) *DB {
		cfg := DefaultConfig()
		cfg.Name = fmt.Sprintf("mngsp-seed%x", keys[0][0])
		cfg.BindAddr, cfg.BindPort = "127.0.0.1", 0
		cfg.Keys, cfg.PrimaryKey = keys, 0
		cfg.Tune = fastMemberlist
		cfg.Logger = testLogger()
		d, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Shutdown() })
		return d
	}
	good, stranger := seed(keys), seed([][]byte{bytes.Repeat([]byte{2}, 32)})
	bind := netip.MustParseAddrPort("127.0.0.1:0")
	start := time.Now()
	obs, err := Discover(bind, bind, keys, 0, []netip.AddrPort{good.NAT().Local, stranger.NAT().Local}, 2, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(obs) != 1 || obs[0].Observer != good.NAT().Local || obs[0].Mapped.Addr() != bind.Addr() || obs[0].Mapped.Port() == 0 {
		t.Fatalf("answers %+v", obs)
	}
	if d := time.Since(start); d < 2*time.Second {
		t.Fatalf("returned after %s, before the silent seed's time was up", d)
	}
	if _, err := Discover(bind, bind, nil, 0, nil, 1, time.Second); err == nil {
		t.Fatal("no keys, no error")
	}
}
