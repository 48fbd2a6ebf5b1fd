package lb

// Connection tracking for load-balanced flows.
//
// An entry remembers, for one client flow to a VIP, the backend Maglev chose
// and the reply tuple (backend -> client) the reverse translation matches.
// Both lookups take one shard lock; a flow's two directions live in the same
// shard because the shard is chosen by hashing only the client's end (the
// forward key's source, the reply key's destination).
//
// Each shard has an entry array, two open-addressing indexes (forward and
// reply keys) and an LRU list threaded through the entries. The entries and
// the indexes grow together as flows need them, doubling up to the shard's
// limit, so lookup, refresh and eviction never allocate, and an insert
// only when the shard first holds more flows than ever. Expiry is lazy: an
// expired entry is dropped when a packet finds it, when inserts sweep past
// it, when a full shard needs room, or when the owner calls sweep.

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/cpu"
)

const (
	// DefaultConntrackSize is how many flows the balancer tracks by default.
	// Each flow slot takes about 210 bytes, made as flows need them: up to
	// 14 MB by default.
	DefaultConntrackSize = 65536
	// MaxConntrackSize bounds the configurable size (about 880 MB).
	MaxConntrackSize = 1 << 22

	maxCTShards    = 64
	minCTShardSize = 64
	// ctFirstEntries is how many entries a shard makes for its first flow.
	ctFirstEntries = 64
	// ctSweepPerInsert is how many entries each insert checks for expiry,
	// so idle expired flows are reclaimed without a goroutine.
	ctSweepPerInsert = 2
	// ctEvictScan is how far from the LRU end a full shard looks for an
	// expired entry before evicting the least recently used live one.
	ctEvictScan = 8
)

// errTupleClash means a new flow's reply tuple is already tracked for
// another live flow (two services sharing a backend, reached from the same
// client port), so replies could not be told apart.
var errTupleClash = errors.New("lb: reply tuple already in use by another flow")

type conntrack struct {
	seed      uint64
	shift     uint // 64 - log2(len(shards))
	shards    []ctShard
	evictions atomic.Uint64
	// live counts held entries, so Inbound can skip the lookup entirely
	// while nothing is tracked.
	live atomic.Int64
}

type ctShard struct {
	mu         sync.Mutex
	entries    []ctEntry // grown as flows need them, up to limit
	limit      int32
	fwd, rev   ctIndex // sized for len(entries)
	free       int32   // free list through ctEntry.next; -1 when empty
	unused     int32   // entries from here on were never used: free too
	head, tail int32   // LRU list; head is the least recently used
	n          int
	sweep      int
	live       *atomic.Int64 // the table's count, shared by all shards
	_          cpu.CacheLinePad
}

type ctEntry struct {
	fwd              FlowKey        // client -> VIP:port
	backend          netip.AddrPort // where fwd is translated to
	fwdHash, revHash uint64
	expires          int64 // table time (ns) after which the flow is gone
	prev, next       int32
	tcp              tcpTrack
	replied          bool
	used             bool
}

func (e *ctEntry) revKey() FlowKey {
	return FlowKey{VNI: e.fwd.VNI, Proto: e.fwd.Proto, Src: e.backend, Dst: e.fwd.Src}
}

// newConntrack makes a table for size flows. seed keys the index hashes so
// other hosts cannot aim flows at one probe chain.
func newConntrack(size int, seed uint64) *conntrack {
	nshards, bits := 1, uint(0)
	for nshards < maxCTShards && size/(nshards*2) >= minCTShardSize {
		nshards, bits = nshards*2, bits+1
	}
	per := (size + nshards - 1) / nshards
	c := &conntrack{seed: seed, shift: 64 - bits, shards: make([]ctShard, nshards)}
	for i := range c.shards {
		s := &c.shards[i]
		s.limit = int32(per)
		s.reindexLocked()
		s.head, s.tail, s.free = -1, -1, -1
		s.live = &c.live
	}
	return c
}

// allocLocked takes a free entry, -1 if none: a freed one first, else one
// never used, growing the entries and the indexes up to the limit, so a
// table holds only the memory its flows have needed: a default table's
// entries made at their full size kept 9 MiB resident on every node, with
// or without a service, and its indexes, though never touched, were 4 MiB
// of live heap, and the collector lets as much garbage pile up as there is
// live heap before it collects.
func (s *ctShard) allocLocked() int32 {
	if i := s.free; i >= 0 {
		s.free = s.entries[i].next
		return i
	}
	if int(s.unused) == len(s.entries) && s.unused < s.limit {
		grown := make([]ctEntry, min(max(2*len(s.entries), ctFirstEntries), int(s.limit)))
		copy(grown, s.entries)
		s.entries = grown
		s.reindexLocked()
	}
	if int(s.unused) < len(s.entries) {
		s.unused++
		return s.unused - 1
	}
	return -1
}

// reindexLocked makes the indexes for as many entries as the shard has
// (at most half full, as they must be) and fills them with the entries in
// use.
func (s *ctShard) reindexLocked() {
	s.fwd, s.rev = newCTIndex(len(s.entries)), newCTIndex(len(s.entries))
	for i := range s.unused {
		if e := &s.entries[i]; e.used {
			s.fwd.insert(e.fwdHash, i)
			s.rev.insert(e.revHash, i)
		}
	}
}

func (c *conntrack) shard(vni uint32, proto Proto, client netip.AddrPort) *ctShard {
	if c.shift == 64 {
		return &c.shards[0]
	}
	return &c.shards[hashTuple(^c.seed, vni, proto, client, netip.AddrPort{})>>c.shift]
}

// outbound finds the flow k (client -> VIP) and accounts a client packet
// with TCP flags to it. It reports false if the flow is unknown, expired,
// or a closed TCP connection being reopened with a new SYN.
func (c *conntrack) outbound(k *FlowKey, flags uint8, now int64) (netip.AddrPort, bool) {
	s := c.shard(k.VNI, k.Proto, k.Src)
	h := hashKey(c.seed, k)
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.findFwdLocked(k, h)
	if i < 0 {
		return netip.AddrPort{}, false
	}
	e := &s.entries[i]
	if e.expires <= now || (k.Proto == ProtoTCP && e.tcp.reopens(flags)) {
		s.removeLocked(i)
		return netip.AddrPort{}, false
	}
	s.refreshLocked(i, flags, false, now)
	return e.backend, true
}

// insert tracks a new flow k translated to backend. If another packet of
// the flow inserted it first, insert returns that entry's backend instead.
func (c *conntrack) insert(k *FlowKey, backend netip.AddrPort, flags uint8, now int64) (netip.AddrPort, error) {
	s := c.shard(k.VNI, k.Proto, k.Src)
	h := hashKey(c.seed, k)
	rk := FlowKey{VNI: k.VNI, Proto: k.Proto, Src: backend, Dst: k.Src}
	rh := hashKey(c.seed, &rk)
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := s.findFwdLocked(k, h); i >= 0 {
		if s.entries[i].expires > now {
			s.refreshLocked(i, flags, false, now)
			return s.entries[i].backend, nil
		}
		s.removeLocked(i)
	}
	if j := s.findRevLocked(&rk, rh); j >= 0 {
		if s.entries[j].expires > now {
			return netip.AddrPort{}, errTupleClash
		}
		s.removeLocked(j)
	}
	s.sweepLocked(now, ctSweepPerInsert)
	i := s.allocLocked()
	if i < 0 {
		s.makeRoomLocked(now, &c.evictions)
		i = s.allocLocked()
	}
	e := &s.entries[i]
	*e = ctEntry{fwd: *k, backend: backend, fwdHash: h, revHash: rh, used: true}
	s.fwd.insert(h, i)
	s.rev.insert(rh, i)
	s.pushTailLocked(i)
	s.n++
	s.live.Add(1)
	if k.Proto == ProtoTCP {
		e.tcp.step(flags, false)
	}
	e.expires = now + int64(flowTimeout(k.Proto, &e.tcp, false))
	return backend, nil
}

// inbound finds the flow whose reply tuple is k (backend -> client) and
// accounts a reply packet to it. It returns the VIP:port the client talked
// to, which the reply's source must be translated back to.
func (c *conntrack) inbound(k *FlowKey, flags uint8, now int64) (netip.AddrPort, bool) {
	s := c.shard(k.VNI, k.Proto, k.Dst)
	h := hashKey(c.seed, k)
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.findRevLocked(k, h)
	if i < 0 {
		return netip.AddrPort{}, false
	}
	e := &s.entries[i]
	if e.expires <= now {
		s.removeLocked(i)
		return netip.AddrPort{}, false
	}
	s.refreshLocked(i, flags, true, now)
	return e.fwd.Dst, true
}

// forgetReply forgets the flow whose reply tuple is k (backend -> client),
// if tracked. It reports whether there was one.
func (c *conntrack) forgetReply(k *FlowKey) bool {
	s := c.shard(k.VNI, k.Proto, k.Dst)
	h := hashKey(c.seed, k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := s.findRevLocked(k, h); i >= 0 {
		s.removeLocked(i)
		return true
	}
	return false
}

// remove forgets the flow k (client -> VIP), if tracked.
func (c *conntrack) remove(k *FlowKey) {
	s := c.shard(k.VNI, k.Proto, k.Src)
	h := hashKey(c.seed, k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := s.findFwdLocked(k, h); i >= 0 {
		s.removeLocked(i)
	}
}

// sweep drops every expired flow; the owner may call it periodically so
// the size reported reflects live flows.
func (c *conntrack) sweep(now int64) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.sweepLocked(now, len(s.entries))
		s.mu.Unlock()
	}
}

// len returns the number of flows held, including expired ones not yet
// reclaimed.
func (c *conntrack) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += s.n
		s.mu.Unlock()
	}
	return n
}

func (s *ctShard) findFwdLocked(k *FlowKey, h uint64) int32 {
	for i := h & s.fwd.mask; ; i = (i + 1) & s.fwd.mask {
		sl := s.fwd.slots[i]
		if sl.empty() {
			return -1
		}
		if sl.hash == h && s.entries[sl.entry()].fwd == *k {
			return sl.entry()
		}
	}
}

func (s *ctShard) findRevLocked(k *FlowKey, h uint64) int32 {
	for i := h & s.rev.mask; ; i = (i + 1) & s.rev.mask {
		sl := s.rev.slots[i]
		if sl.empty() {
			return -1
		}
		if sl.hash == h && s.entries[sl.entry()].revKey() == *k {
			return sl.entry()
		}
	}
}

// refreshLocked accounts one packet to entry i and extends its life.
func (s *ctShard) refreshLocked(i int32, flags uint8, reply bool, now int64) {
	e := &s.entries[i]
	if reply {
		e.replied = true
	}
	if e.fwd.Proto == ProtoTCP {
		e.tcp.step(flags, reply)
	}
	e.expires = now + int64(flowTimeout(e.fwd.Proto, &e.tcp, e.replied))
	if s.tail != i {
		s.unlinkLocked(i)
		s.pushTailLocked(i)
	}
}

func (s *ctShard) removeLocked(i int32) {
	e := &s.entries[i]
	s.fwd.remove(e.fwdHash, i)
	s.rev.remove(e.revHash, i)
	s.unlinkLocked(i)
	*e = ctEntry{next: s.free}
	s.free = i
	s.n--
	s.live.Add(-1)
}

// sweepLocked checks the next n entries (round robin) for expiry.
func (s *ctShard) sweepLocked(now int64, n int) {
	if s.unused == 0 {
		return
	}
	for range n {
		s.sweep++
		if s.sweep >= int(s.unused) { // entries beyond were never used
			s.sweep = 0
		}
		if e := &s.entries[s.sweep]; e.used && e.expires <= now {
			s.removeLocked(int32(s.sweep))
		}
	}
}

// makeRoomLocked frees one entry of a full shard: an expired one near the
// LRU end if there is one, else the least recently used flow (an eviction).
func (s *ctShard) makeRoomLocked(now int64, evictions *atomic.Uint64) {
	i := s.head
	for range ctEvictScan {
		if i < 0 {
			break
		}
		if s.entries[i].expires <= now {
			s.removeLocked(i)
			return
		}
		i = s.entries[i].next
	}
	s.removeLocked(s.head)
	evictions.Add(1)
}

func (s *ctShard) pushTailLocked(i int32) {
	e := &s.entries[i]
	e.prev, e.next = s.tail, -1
	if s.tail >= 0 {
		s.entries[s.tail].next = i
	} else {
		s.head = i
	}
	s.tail = i
}

func (s *ctShard) unlinkLocked(i int32) {
	e := &s.entries[i]
	if e.prev >= 0 {
		s.entries[e.prev].next = e.next
	} else {
		s.head = e.next
	}
	if e.next >= 0 {
		s.entries[e.next].prev = e.prev
	} else {
		s.tail = e.prev
	}
	e.prev, e.next = -1, -1
}
