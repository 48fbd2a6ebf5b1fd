package lb

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"meshnet.dev/meshnet/internal/testenv"
)

func ctKey(proto Proto, client string, vip string) FlowKey {
	return FlowKey{VNI: 42, Proto: proto, Src: netip.MustParseAddrPort(client), Dst: netip.MustParseAddrPort(vip)}
}

func replyKey(k FlowKey, backend netip.AddrPort) FlowKey {
	return FlowKey{VNI: k.VNI, Proto: k.Proto, Src: backend, Dst: k.Src}
}

func secs(d time.Duration) int64 { return int64(d) }

func TestTCPStateMachine(t *testing.T) {
	const c, s = false, true // direction: client, server (reply)
	type seg struct {
		reply bool
		flags uint8
		want  tcpState
	}
	for _, tc := range []struct {
		name string
		segs []seg
	}{
		{"handshake and client close", []seg{
			{c, tcpSYN, tcpSynSent}, {s, tcpSYN | tcpACK, tcpSynRecv}, {c, tcpACK, tcpEstablished},
			{c, tcpACK, tcpEstablished}, {c, tcpFIN | tcpACK, tcpFinWait}, {s, tcpACK, tcpCloseWait},
			{s, tcpFIN | tcpACK, tcpLastAck}, {c, tcpACK, tcpTimeWait},
		}},
		{"server closes first", []seg{
			{c, tcpSYN, tcpSynSent}, {s, tcpSYN | tcpACK, tcpSynRecv}, {c, tcpACK, tcpEstablished},
			{s, tcpFIN | tcpACK, tcpFinWait}, {s, tcpACK, tcpFinWait}, {c, tcpFIN | tcpACK, tcpLastAck},
			{s, tcpACK, tcpTimeWait},
		}},
		{"simultaneous close", []seg{
			{c, tcpACK, tcpEstablished}, {c, tcpFIN, tcpFinWait}, {s, tcpFIN, tcpLastAck}, {c, tcpACK, tcpTimeWait},
		}},
		{"reset", []seg{{c, tcpSYN, tcpSynSent}, {s, tcpRST | tcpACK, tcpClose}}},
		{"mid-stream pickup", []seg{{c, tcpACK, tcpEstablished}}},
		{"pickup without flags", []seg{{s, 0, tcpEstablished}}},
		{"syn retransmit", []seg{{c, tcpSYN, tcpSynSent}, {c, tcpSYN, tcpSynSent}}},
		{"stray syn-ack from client ignored", []seg{{c, tcpSYN, tcpSynSent}, {c, tcpSYN | tcpACK, tcpSynSent}}},
		{"server ack does not establish", []seg{{c, tcpSYN, tcpSynSent}, {s, tcpSYN | tcpACK, tcpSynRecv}, {s, tcpACK, tcpSynRecv}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tr tcpTrack
			for i, sg := range tc.segs {
				tr.step(sg.flags, sg.reply)
				if tr.state != sg.want {
					t.Fatalf("segment %d (reply=%v flags=%#x): state %v, want %v", i, sg.reply, sg.flags, tr.state, sg.want)
				}
			}
		})
	}
}

func TestConntrackTimeouts(t *testing.T) {
	b := netip.MustParseAddrPort("10.0.0.9:80")
	for _, tc := range []struct {
		name  string
		proto Proto
		first uint8 // client flags on insert
		reply bool  // a reply is seen right after insert
		rflag uint8
		life  time.Duration
	}{
		{"tcp syn unanswered", ProtoTCP, tcpSYN, false, 0, TCPTimeoutSynSent},
		{"tcp syn-ack seen", ProtoTCP, tcpSYN, true, tcpSYN | tcpACK, TCPTimeoutSynRecv},
		{"tcp established", ProtoTCP, tcpACK, true, tcpACK, TCPTimeoutEstablished},
		{"tcp reset", ProtoTCP, tcpACK, true, tcpRST, TCPTimeoutClose},
		{"tcp fin", ProtoTCP, tcpFIN | tcpACK, false, 0, TCPTimeoutFinWait},
		{"udp unreplied", ProtoUDP, 0, false, 0, UDPTimeout},
		{"udp replied", ProtoUDP, 0, true, 0, UDPTimeoutReplied},
		{"icmp", ProtoICMP, 0, true, 0, ICMPTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := ctKey(tc.proto, "10.0.0.1:1000", "10.0.0.100:80")
			rk := replyKey(k, b)
			setup := func() *conntrack {
				ct := newConntrack(1024, 1)
				if _, err := ct.insert(&k, b, tc.first, 0); err != nil {
					t.Fatal(err)
				}
				if tc.reply {
					if vip, ok := ct.inbound(&rk, tc.rflag, 0); !ok || vip != k.Dst {
						t.Fatalf("inbound = %v, %v; want %v", vip, ok, k.Dst)
					}
				}
				return ct
			}
			// Flags 0 leave a tracked TCP state as it is.
			if _, ok := setup().outbound(&k, 0, secs(tc.life)-1); !ok {
				t.Fatalf("flow gone 1ns before its %v timeout", tc.life)
			}
			ct := setup()
			if _, ok := ct.outbound(&k, 0, secs(tc.life)); ok {
				t.Fatalf("flow alive at its %v timeout", tc.life)
			}
			if n := ct.len(); n != 0 {
				t.Fatalf("expired flow still held: len %d", n)
			}
		})
	}
}

func TestConntrackLifeExtendsWithTraffic(t *testing.T) {
	ct := newConntrack(64, 1)
	k := ctKey(ProtoUDP, "10.0.0.1:1000", "10.0.0.100:53")
	b := netip.MustParseAddrPort("10.0.0.9:53")
	if _, err := ct.insert(&k, b, 0, 0); err != nil {
		t.Fatal(err)
	}
	now := int64(0)
	for range 10 {
		now += secs(UDPTimeout) - 1
		if got, ok := ct.outbound(&k, 0, now); !ok || got != b {
			t.Fatalf("at %v: outbound = %v, %v", time.Duration(now), got, ok)
		}
	}
}

func TestConntrackReopenAfterClose(t *testing.T) {
	ct := newConntrack(64, 1)
	k := ctKey(ProtoTCP, "10.0.0.1:1000", "10.0.0.100:80")
	b := netip.MustParseAddrPort("10.0.0.9:80")
	if _, err := ct.insert(&k, b, tcpSYN, 0); err != nil {
		t.Fatal(err)
	}
	rk := replyKey(k, b)
	ct.inbound(&rk, tcpRST|tcpACK, 1)
	if _, ok := ct.outbound(&k, tcpACK, 2); !ok {
		t.Fatal("closed flow's straggler ACK not matched")
	}
	if _, ok := ct.outbound(&k, tcpSYN, 3); ok {
		t.Fatal("new SYN on a closed tuple matched the old flow; want a fresh pick")
	}
	if ct.len() != 0 {
		t.Fatal("reopened flow's old entry kept")
	}
}

func TestConntrackTupleClash(t *testing.T) {
	ct := newConntrack(64, 1)
	b := netip.MustParseAddrPort("10.0.0.9:80")
	k1 := ctKey(ProtoUDP, "10.0.0.1:1000", "10.0.0.100:80")
	k2 := ctKey(ProtoUDP, "10.0.0.1:1000", "10.0.0.101:80") // another VIP, same backend
	if _, err := ct.insert(&k1, b, 0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.insert(&k2, b, 0, 1); !errors.Is(err, errTupleClash) {
		t.Fatalf("insert of clashing flow = %v, want errTupleClash", err)
	}
	if _, err := ct.insert(&k2, b, 0, secs(UDPTimeout)); err != nil {
		t.Fatalf("insert after the first flow expired: %v", err)
	}
	rk := replyKey(k2, b)
	if vip, ok := ct.inbound(&rk, 0, secs(UDPTimeout)+1); !ok || vip != k2.Dst {
		t.Fatalf("reply maps to %v, %v; want %v", vip, ok, k2.Dst)
	}
}

func TestConntrackInsertRace(t *testing.T) {
	ct := newConntrack(64, 1)
	k := ctKey(ProtoUDP, "10.0.0.1:1000", "10.0.0.100:80")
	b1 := netip.MustParseAddrPort("10.0.0.9:80")
	b2 := netip.MustParseAddrPort("10.0.0.10:80")
	if _, err := ct.insert(&k, b1, 0, 0); err != nil {
		t.Fatal(err)
	}
	got, err := ct.insert(&k, b2, 0, 1)
	if err != nil || got != b1 {
		t.Fatalf("second insert of one flow = %v, %v; want the first backend %v", got, err, b1)
	}
}

func TestConntrackBoundedEvictsLRU(t *testing.T) {
	const size = 8
	ct := newConntrack(size, 1)
	if len(ct.shards) != 1 {
		t.Fatalf("%d shards for size %d, want 1", len(ct.shards), size)
	}
	b := netip.MustParseAddrPort("10.0.0.9:80")
	keys := make([]FlowKey, 20)
	for i := range keys {
		keys[i] = ctKey(ProtoTCP, fmt.Sprintf("10.0.0.1:%d", 1000+i), "10.0.0.100:80")
	}
	for i := range size {
		if _, err := ct.insert(&keys[i], b, tcpACK, int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Touch flow 0 so flow 1 becomes the least recently used.
	if _, ok := ct.outbound(&keys[0], tcpACK, 100); !ok {
		t.Fatal("flow 0 missing")
	}
	if _, err := ct.insert(&keys[size], b, tcpACK, 101); err != nil {
		t.Fatal(err)
	}
	if got := ct.evictions.Load(); got != 1 {
		t.Fatalf("evictions = %d, want 1", got)
	}
	if _, ok := ct.outbound(&keys[1], tcpACK, 102); ok {
		t.Fatal("least recently used flow 1 survived eviction")
	}
	if _, ok := ct.outbound(&keys[0], tcpACK, 103); !ok {
		t.Fatal("recently used flow 0 was evicted")
	}
	for i := size + 1; i < len(keys); i++ {
		if _, err := ct.insert(&keys[i], b, tcpACK, int64(200+i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := ct.len(); n != size {
		t.Fatalf("len = %d, want the bound %d", n, size)
	}
}

func TestConntrackPrefersExpiredOverEviction(t *testing.T) {
	const size = 8
	ct := newConntrack(size, 1)
	b := netip.MustParseAddrPort("10.0.0.9:80")
	for i := range size {
		proto := ProtoTCP
		if i == 3 {
			proto = ProtoUDP // expires after 30 s; the TCP flows live for days
		}
		k := ctKey(proto, fmt.Sprintf("10.0.0.1:%d", 1000+i), "10.0.0.100:80")
		if _, err := ct.insert(&k, b, tcpACK, 0); err != nil {
			t.Fatal(err)
		}
	}
	k := ctKey(ProtoTCP, "10.0.0.2:1", "10.0.0.100:80")
	if _, err := ct.insert(&k, b, tcpACK, secs(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := ct.evictions.Load(); got != 0 {
		t.Fatalf("evicted %d live flows while an expired one was free", got)
	}
	ct.sweep(secs(time.Hour))
	if n := ct.len(); n != size {
		t.Fatalf("len = %d, want %d", n, size)
	}
}

func TestConntrackSweep(t *testing.T) {
	ct := newConntrack(4096, 7)
	b := netip.MustParseAddrPort("10.0.0.9:80")
	for i := range 1000 {
		k := ctKey(ProtoUDP, fmt.Sprintf("10.0.%d.%d:1000", i/250, i%250+1), "10.0.0.100:80")
		if _, err := ct.insert(&k, b, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	ct.sweep(secs(UDPTimeout) - 1)
	if n := ct.len(); n != 1000 {
		t.Fatalf("sweep before expiry left %d of 1000", n)
	}
	ct.sweep(secs(UDPTimeout))
	if n := ct.len(); n != 0 {
		t.Fatalf("sweep after expiry left %d", n)
	}
}

// TestConntrackMatchesMap drives the table and a plain map with the same
// random operations over a small key space, so index collisions and
// backward-shift deletions are exercised heavily, and compares them.
func TestConntrackMatchesMap(t *testing.T) {
	const size = 64 // one shard, 128 index slots
	ct := newConntrack(size, 3)
	ref := map[FlowKey]netip.AddrPort{}
	r := rand.New(rand.NewPCG(9, 9))
	key := func() FlowKey {
		return FlowKey{VNI: 1, Proto: ProtoUDP,
			Src: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(r.IntN(12))}), uint16(r.IntN(8))),
			Dst: netip.MustParseAddrPort("10.0.0.100:53")}
	}
	for op := range 200000 {
		k := key()
		switch r.IntN(4) {
		case 0, 1:
			b := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(op)}), 53)
			if _, ok := ref[k]; !ok && len(ref) == size {
				continue // keep below the bound: this test is about the index
			}
			got, err := ct.insert(&k, b, 0, 0)
			if err != nil {
				t.Fatalf("op %d: insert: %v", op, err) // clients differ, so reply tuples cannot clash
			}
			if want, ok := ref[k]; ok && got != want {
				t.Fatalf("op %d: insert of tracked flow returned %v, want %v", op, got, want)
			}
			if _, ok := ref[k]; !ok {
				ref[k] = b
			}
		case 2:
			ct.remove(&k)
			delete(ref, k)
		case 3:
			got, ok := ct.outbound(&k, 0, 0)
			want, wok := ref[k]
			if ok != wok || got != want {
				t.Fatalf("op %d: outbound(%v) = %v, %v; map has %v, %v", op, k, got, ok, want, wok)
			}
			if ok {
				rk := replyKey(k, got)
				if vip, rok := ct.inbound(&rk, 0, 0); !rok || vip != k.Dst {
					t.Fatalf("op %d: reply lookup = %v, %v", op, vip, rok)
				}
			}
		}
		if ct.len() != len(ref) {
			t.Fatalf("op %d: len %d, map %d", op, ct.len(), len(ref))
		}
	}
	if ct.evictions.Load() != 0 {
		t.Fatal("evicted below the bound")
	}
}

func TestConntrackConcurrent(t *testing.T) {
	ct := newConntrack(1024, 5)
	b := netip.MustParseAddrPort("10.0.0.9:80")
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 5000 {
				k := FlowKey{VNI: 1, Proto: ProtoUDP,
					Src: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(g), byte(i % 64)}), uint16(i%500)),
					Dst: netip.MustParseAddrPort("10.0.0.100:80")}
				now := int64(i)
				if _, ok := ct.outbound(&k, 0, now); !ok {
					if _, err := ct.insert(&k, b, 0, now); err != nil {
						t.Errorf("insert: %v", err)
						return
					}
				}
				rk := replyKey(k, b)
				ct.inbound(&rk, 0, now)
				if i%7 == 0 {
					ct.remove(&k)
				}
			}
		})
	}
	wg.Wait()
	if n := ct.len(); n > 1024 {
		t.Fatalf("len %d above the bound", n)
	}
}

func TestConntrackAllocs(t *testing.T) {
	testenv.SkipAllocsUnderRace(t)
	ct := newConntrack(DefaultConntrackSize, 11)
	b := netip.MustParseAddrPort("10.0.0.9:80")
	k := ctKey(ProtoTCP, "10.0.0.1:1000", "10.0.0.100:80")
	rk := replyKey(k, b)
	i := 0
	n := testing.AllocsPerRun(1000, func() {
		i++
		k.Src = netip.AddrPortFrom(k.Src.Addr(), uint16(i))
		rk.Dst = k.Src
		if _, err := ct.insert(&k, b, tcpSYN, int64(i)); err != nil {
			t.Fatal(err)
		}
		ct.outbound(&k, tcpACK, int64(i))
		ct.inbound(&rk, tcpACK, int64(i))
		ct.remove(&k)
	})
	if n != 0 {
		t.Fatalf("conntrack allocates %v times per insert/lookup/remove, want 0", n)
	}
}

func BenchmarkConntrack(b *testing.B) {
	ct := newConntrack(DefaultConntrackSize, 11)
	be := netip.MustParseAddrPort("10.0.0.9:80")
	k := ctKey(ProtoTCP, "10.0.0.1:1000", "10.0.0.100:80")
	if _, err := ct.insert(&k, be, tcpACK, 0); err != nil {
		b.Fatal(err)
	}
	rk := replyKey(k, be)
	b.Run("outbound", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ct.outbound(&k, tcpACK, 1)
		}
	})
	b.Run("inbound", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ct.inbound(&rk, tcpACK, 1)
		}
	})
	b.Run("churn", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			nk := k
			nk.Src = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), uint16(i))
			if _, err := ct.insert(&nk, be, tcpSYN, int64(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestConntrackUsesEntriesAsNeeded: a table hands out entries it never
// used only when no freed one is left, so an idle or lightly used table
// has written to a small part of its memory.
func TestConntrackUsesEntriesAsNeeded(t *testing.T) {
	ct := newConntrack(8, 1)
	s := &ct.shards[0]
	b := netip.MustParseAddrPort("10.0.0.9:80")
	k1 := ctKey(ProtoUDP, "10.0.0.1:1000", "10.0.0.100:53")
	k2 := ctKey(ProtoUDP, "10.0.0.1:1001", "10.0.0.100:53")
	if s.unused != 0 {
		t.Fatalf("a new table used %d entries", s.unused)
	}
	if _, err := ct.insert(&k1, b, 0, 0); err != nil {
		t.Fatal(err)
	}
	ct.sweep(int64(time.Hour)) // k1 expires and is freed
	if ct.len() != 0 {
		t.Fatal("the expired flow was not swept")
	}
	if _, err := ct.insert(&k2, b, 0, int64(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if s.unused != 1 {
		t.Fatalf("%d entries used for one flow at a time, want 1 (the freed one reused)", s.unused)
	}
}

// TestConntrackGrowsEntriesWithFlows: a default-size table holds no entries
// until flows arrive, grows with them, and still holds its full size.
func TestConntrackGrowsEntriesWithFlows(t *testing.T) {
	held := func(ct *conntrack) (n int) {
		for i := range ct.shards {
			n += len(ct.shards[i].entries)
		}
		return n
	}
	ct := newConntrack(DefaultConntrackSize, 1)
	if n := held(ct); n != 0 {
		t.Fatalf("a new table holds %d entries, want 0", n)
	}
	b := netip.MustParseAddrPort("10.0.0.9:80")
	insert := func(ct *conntrack, i int) {
		t.Helper()
		k := ctKey(ProtoUDP, fmt.Sprintf("10.0.%d.%d:1000", i/250, i%250+1), "10.0.0.100:53")
		if _, err := ct.insert(&k, b, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 1000 {
		insert(ct, i)
	}
	if n := held(ct); n < 1000 || n > 4*1000+len(ct.shards)*ctFirstEntries {
		t.Fatalf("1000 flows: the table holds %d entries", n)
	}

	small := newConntrack(100, 1) // one shard
	for i := range 100 {
		insert(small, i)
	}
	if small.len() != 100 || held(small) != 100 {
		t.Fatalf("a full 100-flow table: %d flows in %d entries", small.len(), held(small))
	}
	insert(small, 100) // full: evicts rather than grows
	if held(small) != 100 || small.evictions.Load() != 1 {
		t.Fatalf("past its size the table holds %d entries after %d evictions", held(small), small.evictions.Load())
	}
}

// TestConntrackGrowsIndexesWithFlows: the indexes grow with the entries,
// stay at most half full, and find every flow in both directions after
// each growth.
func TestConntrackGrowsIndexesWithFlows(t *testing.T) {
	slots := func(ct *conntrack) (n int) {
		for i := range ct.shards {
			n += len(ct.shards[i].fwd.slots) + len(ct.shards[i].rev.slots)
		}
		return n
	}
	ct := newConntrack(DefaultConntrackSize, 1)
	if n := slots(ct); n != 2*len(ct.shards) {
		t.Fatalf("a new table's indexes hold %d slots, want one per index", n)
	}
	b := netip.MustParseAddrPort("10.0.0.9:80")
	var keys []FlowKey
	for i := range 3000 {
		k := ctKey(ProtoTCP, fmt.Sprintf("10.1.%d.%d:2000", i/250, i%250+1), "10.0.0.100:80")
		if _, err := ct.insert(&k, b, tcpSYN, 0); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
		if i%3 == 0 { // some freed entries among the used ones when it grows
			ct.remove(&keys[i/2])
		}
	}
	removed := map[int]bool{}
	for i := 0; i < 3000; i += 3 {
		removed[i/2] = true
	}
	for i, k := range keys {
		got, ok := ct.outbound(&k, tcpACK, 0)
		if ok != !removed[i] || (ok && got != b) {
			t.Fatalf("flow %d (removed %t): outbound = %v, %t", i, removed[i], got, ok)
		}
		rk := replyKey(k, b)
		if vip, ok := ct.inbound(&rk, tcpACK, 0); ok != !removed[i] || (ok && vip != k.Dst) {
			t.Fatalf("flow %d (removed %t): inbound = %v, %t", i, removed[i], vip, ok)
		}
	}
	for i := range ct.shards {
		s := &ct.shards[i]
		if len(s.fwd.slots) < 2*len(s.entries) || len(s.rev.slots) < 2*len(s.entries) {
			t.Fatalf("shard %d: %d entries in indexes of %d and %d slots, want at least twice as many", i, len(s.entries), len(s.fwd.slots), len(s.rev.slots))
		}
	}
	if n, full := slots(ct), 2*len(ct.shards)*len(newCTIndex(int(ct.shards[0].limit)).slots); n >= full/4 {
		t.Fatalf("3000 flows: indexes of %d slots, a quarter or more of the full size %d", n, full)
	}
}
