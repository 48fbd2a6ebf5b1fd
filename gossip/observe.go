package gossip

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"meshnet.dev/meshnet/gossip/wire"
)

const (
	// observeInterval is how often a node asks members where its packets
	// come from. A NAT forgets an idle UDP mapping after about 30 s
	// (Linux conntrack), so the answers also arrive well within the time
	// a mapping lives.
	observeInterval = 20 * time.Second
	// observersPerRound members are asked each round, at different
	// addresses where possible: two are needed to tell NAT kinds apart.
	observersPerRound = 3
	// observeTimeout is how long a request waits for its answer.
	observeTimeout = 5 * time.Second
	// observationTTL forgets answers from before a move to another
	// network, so the report follows the node.
	observationTTL = 3 * observeInterval
	// maxPendingObserves bounds requests awaiting answers.
	maxPendingObserves = 1024
	// observeReplyRate bounds the answers a node sends per second (and
	// its burst): only key holders can ask, but a member should not be
	// able to turn this node into a packet cannon.
	observeReplyRate = 100
)

// observer asks members where this node's gossip packets come from,
// answers their questions, and keeps the latest answers. Every message is
// sealed with a gossip key, so only members ask and only members answer;
// an answer counts only for a question this node asked, from the address
// it asked.
type observer struct {
	observerConfig
	replies *rate.Limiter

	mu      sync.Mutex
	pending map[uint64]pendingObserve
	answers map[netip.AddrPort]Observation
	report  NATReport
}

// observerConfig is what an observer needs.
type observerConfig struct {
	seal *pathSealer
	send func(b []byte, to netip.AddrPort) error
	// local is this host's own gossip address, advertised the gossip
	// address members use (its public one behind a NAT); requests carry
	// it.
	local, advertised netip.AddrPort
	now               func() time.Time
	drop              func(dropReason)
	// seen, if set, learns that the member advertising adv sends from
	// from, and whether it says it is behind a NAT.
	seen func(adv, from netip.AddrPort, behindNAT bool)
	// back, if set, opens the stream a member asked for (ConnectBack)
	// and reports whether it started.
	back func(id uint64, from netip.AddrPort) bool
}

type pendingObserve struct {
	to   netip.AddrPort
	sent time.Time
}

func newObserver(cfg observerConfig) *observer {
	o := &observer{
		observerConfig: cfg,
		replies:        rate.NewLimiter(observeReplyRate, observeReplyRate),
		pending:        make(map[uint64]pendingObserve),
		answers:        make(map[netip.AddrPort]Observation),
	}
	o.report = classifyNAT(cfg.local, nil)
	return o
}

// ask sends an observe request to each target.
func (o *observer) ask(targets []netip.AddrPort) {
	now := o.now()
	o.mu.Lock()
	o.expireLocked(now)
	ids := make([]uint64, 0, len(targets))
	for _, to := range targets {
		if len(o.pending) >= maxPendingObserves {
			break
		}
		id := rand.Uint64()
		o.pending[id] = pendingObserve{to: to, sent: now}
		ids = append(ids, id)
	}
	var flags uint8
	if o.report.BehindNAT {
		flags |= wire.PathBehindNAT
	}
	o.mu.Unlock()
	for i, id := range ids {
		msg, err := o.seal.seal(nil, wire.AppendPathBody(nil, wire.PathBody{Kind: wire.ObserveRequest, ID: id, Addr: o.advertised, Flags: flags}))
		if err == nil {
			_ = o.send(msg, targets[i]) // a lost request is retried next round
		}
	}
}

// handle takes a path message that arrived from `from`. It runs on the
// transport's reading goroutine and keeps no reference to b.
func (o *observer) handle(b []byte, from netip.AddrPort) {
	var scratch [wire.MaxPathBody + pathTagLen]byte
	body, err := o.seal.open(scratch[:0], b)
	if err != nil {
		o.drop(dropUndecryptable)
		return
	}
	p, err := wire.DecodePathBody(body)
	if err != nil {
		o.drop(dropMalformed)
		return
	}
	switch p.Kind {
	case wire.ObserveRequest:
		if !o.replies.Allow() {
			o.drop(dropRateLimited)
			return
		}
		if o.seen != nil {
			o.seen(p.Addr, from, p.Flags&wire.PathBehindNAT != 0)
		}
		reply := wire.AppendPathBody(scratch[:0], wire.PathBody{Kind: wire.ObserveReply, ID: p.ID, Addr: from})
		if msg, err := o.seal.seal(nil, reply); err == nil {
			_ = o.send(msg, from)
		}
	case wire.ObserveReply:
		if !o.answer(p, from) {
			o.drop(dropUnsolicited)
		}
	case wire.ConnectBack:
		if o.back == nil || !o.back(p.ID, from) {
			o.drop(dropRateLimited)
		}
	}
}

// answer records a reply to a request this node sent to from.
func (o *observer) answer(p wire.PathBody, from netip.AddrPort) bool {
	now := o.now()
	o.mu.Lock()
	defer o.mu.Unlock()
	q, ok := o.pending[p.ID]
	if !ok || q.to != from {
		return false
	}
	delete(o.pending, p.ID)
	o.answers[from] = Observation{Observer: from, Mapped: p.Addr, At: now}
	o.expireLocked(now)
	return true
}

// expireLocked forgets old requests and answers and reclassifies.
func (o *observer) expireLocked(now time.Time) {
	for id, q := range o.pending {
		if now.Sub(q.sent) > observeTimeout {
			delete(o.pending, id)
		}
	}
	obs := make([]Observation, 0, len(o.answers))
	for k, a := range o.answers {
		if now.Sub(a.At) > observationTTL {
			delete(o.answers, k)
			continue
		}
		obs = append(obs, a)
	}
	o.report = classifyNAT(o.local, obs)
}

// current returns the latest report.
func (o *observer) current() NATReport {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.expireLocked(o.now())
	r := o.report
	r.Observations = slices.Clone(r.Observations)
	return r
}

// pickObservers chooses up to n member addresses to ask, at different IP
// addresses first, in random order.
func pickObservers(addrs []netip.AddrPort, n int) []netip.AddrPort {
	addrs = slices.Clone(addrs)
	rand.Shuffle(len(addrs), func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })
	var out, rest []netip.AddrPort
	ips := map[netip.Addr]bool{}
	for _, a := range addrs {
		if len(out) < n && !ips[a.Addr()] {
			ips[a.Addr()] = true
			out = append(out, a)
		} else {
			rest = append(rest, a)
		}
	}
	for _, a := range rest {
		if len(out) >= n {
			break
		}
		out = append(out, a)
	}
	return out
}

// observeFirst is the first round's delay after start: by then a node
// that joins has met the cluster (Join also asks at once).
const observeFirst = 2 * time.Second

// handlePath is the transport's hook for path messages.
func (d *DB) handlePath(b []byte, from netip.AddrPort) {
	if o := d.obs.Load(); o != nil {
		o.handle(b, from)
	}
}

// observeRound asks a few live members where this node's packets come
// from; behind a NAT it asks them all. Every member probes this node at
// the address the NAT gives it, which a NAT that filters lets in only
// while this node keeps sending to that member.
func (d *DB) observeRound() {
	if o := d.obs.Load(); o != nil {
		d.askMembers(o.current().BehindNAT)
	}
}

// askMembers asks a few live members, or all of them, where this node's
// packets come from.
func (d *DB) askMembers(all bool) {
	o := d.obs.Load()
	if o == nil {
		return
	}
	d.mu.Lock()
	var addrs []netip.AddrPort
	for name, m := range d.members {
		if name != d.name && m.state == StateAlive && m.addr.IsValid() {
			addrs = append(addrs, m.addr)
		}
	}
	d.mu.Unlock()
	n := observersPerRound
	if all {
		n = len(addrs)
	}
	o.ask(pickObservers(addrs, n))
}

// NAT reports what members see of this node's gossip address: whether a
// NAT translates it and how. Without real sockets or gossip keys the
// mapping stays unknown.
func (d *DB) NAT() NATReport {
	if o := d.obs.Load(); o != nil {
		return o.current()
	}
	return classifyNAT(d.localGossipAddr(), nil)
}

// localGossipAddr is this host's own gossip address: the one it
// advertises unless a NAT stands between.
func (d *DB) localGossipAddr() netip.AddrPort {
	if d.cfg.LocalAddr != "" {
		return d.gossipAddr(d.cfg.LocalAddr)
	}
	return d.advertisedGossipAddr()
}

// advertisedGossipAddr is the gossip address members are told to use.
func (d *DB) advertisedGossipAddr() netip.AddrPort {
	s := d.cfg.AdvertiseAddr
	if s == "" {
		s = d.cfg.BindAddr // memberlist advertises a specific bound address
	}
	return d.gossipAddr(s)
}

func (d *DB) gossipAddr(s string) netip.AddrPort {
	a, err := netip.ParseAddr(s)
	if err != nil || a.IsUnspecified() {
		return netip.AddrPort{}
	}
	port := d.cfg.AdvertisePort
	if port == 0 {
		port = d.cfg.BindPort
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(port))
}

// memberSeen learns, from a member's observe request, where its packets
// come from. A member behind a NAT advertises its public address with
// its own port, but the NAT may have given it another, and a roaming
// laptop moves while memberlist keeps the address it started with: the
// transport sends to where the member's packets come from, which its
// NAT lets back in.
func (d *DB) memberSeen(t *netTransport, adv, from netip.AddrPort, behindNAT bool) {
	d.mu.Lock()
	known := false
	for name, m := range d.members {
		if name != d.name && m.addr == adv {
			known = true
			break
		}
	}
	d.mu.Unlock()
	if known {
		t.route(adv, from, behindNAT)
	}
}

// Roamed tells gossip this host now sends from local (a laptop on
// another network): what members saw before says nothing now, so it asks
// every member at once, which also shows them where it went.
func (d *DB) Roamed(local netip.Addr) {
	o := d.obs.Load()
	if o == nil {
		return
	}
	o.mu.Lock()
	o.local = netip.AddrPortFrom(local, o.local.Port())
	clear(o.answers)
	o.report = classifyNAT(o.local, nil)
	o.mu.Unlock()
	d.askMembers(true)
}

// PeerBehindNAT reports whether the member told this node it is behind
// a NAT (in its latest observe requests).
func (d *DB) PeerBehindNAT(name string) bool {
	d.mu.Lock()
	m := d.members[name]
	var addr netip.AddrPort
	if m != nil {
		addr = m.addr
	}
	d.mu.Unlock()
	if d.nt == nil || !addr.IsValid() {
		return false
	}
	r, ok := d.nt.routeTo(addr)
	return ok && r.nat
}
