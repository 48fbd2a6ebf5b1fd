package gossip

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// DB is one node's view of the cluster and its replicated tables.
//
// Locking: mu guards every field after it up to reconnecting (the member
// and record tables, the entry stores and queues, syncs pending, gaps).
// Memberlist calls our delegates while holding its own node lock, so the
// order is memberlist, then mu: nothing may call into memberlist while
// holding mu. Sends are therefore prepared under mu and made after
// releasing it. Watchers are called from the dispatcher goroutine, never
// under mu. See the package documentation for the goroutines.
type DB struct {
	cfg     Config
	name    string
	log     *slog.Logger
	now     func() time.Time
	ml      *memberlist.Memberlist
	trans   *countingTransport // counted and guarded
	mlLog   *logBridge         // memberlist's (and its transport's) logger
	mlConf  *memberlist.Config
	keyring *memberlist.Keyring
	viv     *vivaldi
	stats   counters
	disp    *dispatcher
	syncs   chan syncTask
	// obs asks members where this node's packets come from; nil without
	// real sockets or gossip keys.
	obs atomic.Pointer[observer]
	nt  *netTransport // the real sockets, nil on another transport

	clock    lamportClock // table events
	netClock lamportClock // network membership records

	mu           sync.Mutex
	meta         []byte
	members      memberTable
	networks     map[string]*network // joined, ClusterScope included
	records      recordTable         // network -> node -> record
	netQueue     eventQueue[recordID]
	pendingSyncs map[syncTask]bool
	gaps         map[string]*gap // nodes named before memberlist told us of them
	heldItems    int             // items held across gaps
	gapRepairAt  time.Time       // last push/pull started for a gap
	leaving      bool            // Leave has begun: no more local changes
	closed       bool

	// reconnecting and pushPulling each let one memberlist Join run at a
	// time: to a failed member, and to a peer whose membership differs.
	reconnecting chan struct{}
	pushPulling  chan struct{}

	stop     chan struct{}
	wg       sync.WaitGroup
	shutOnce sync.Once
	shutErr  error
}

var (
	errClosed  = errors.New("gossip: the DB is shut down")
	errLeaving = errors.New("gossip: the node is leaving the cluster")
)

// changeableLocked reports why local changes are refused, if they are.
func (d *DB) changeableLocked() error {
	switch {
	case d.closed:
		return errClosed
	case d.leaving:
		return errLeaving
	}
	return nil
}

// New creates a DB and starts listening; call Join to meet the cluster.
func New(cfg Config) (*DB, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	viv, err := newVivaldi(cfg.Now)
	if err != nil {
		return nil, fmt.Errorf("gossip: vivaldi coordinates: %w", err)
	}
	d := &DB{
		cfg:          cfg,
		name:         cfg.Name,
		log:          cfg.Logger.With("component", "gossip"),
		now:          cfg.Now,
		viv:          viv,
		syncs:        make(chan syncTask, maxPendingSyncs),
		meta:         append([]byte(nil), cfg.Meta...),
		members:      make(memberTable),
		networks:     make(map[string]*network),
		records:      make(recordTable),
		pendingSyncs: make(map[syncTask]bool),
		gaps:         make(map[string]*gap),
		reconnecting: make(chan struct{}, 1),
		pushPulling:  make(chan struct{}, 1),
		stop:         make(chan struct{}),
	}
	d.mlLog = newLogBridge(cfg.Logger.With("component", "memberlist"), &d.stats, cfg.Now)
	if len(cfg.Keys) > 0 {
		d.keyring, err = memberlist.NewKeyring(cfg.Keys, cfg.Keys[cfg.PrimaryKey])
		if err != nil {
			return nil, fmt.Errorf("gossip: keyring: %w", err)
		}
	}
	// We are always a member of the cluster scope; our presence record
	// there is what a graceful leave later retracts.
	d.networks[ClusterScope] = newNetwork(ClusterScope)
	d.members[d.name] = &member{name: d.name, state: StateAlive, since: d.now()}
	d.records.set(ClusterScope, d.name, &memberRec{ltime: d.netClock.Increment()})

	tr, err := d.transport()
	if err != nil {
		return nil, err
	}
	d.trans = tr
	d.mlConf = d.memberlistConfig(tr)
	d.disp = newDispatcher()
	d.ml, err = memberlist.Create(d.mlConf)
	if err != nil {
		d.disp.close()
		_ = tr.Shutdown()
		return nil, fmt.Errorf("gossip: starting memberlist as %q: %w", d.name, err)
	}
	d.start()
	return d, nil
}

// start runs the DB's goroutines; Shutdown stops them.
func (d *DB) start() {
	d.wg.Add(3 + syncWorkers)
	go d.every(d.cfg.GossipInterval, d.cfg.GossipInterval, func() { d.sendAll(d.gossipRound()) })
	// A random first delay keeps nodes started together out of lockstep.
	go d.every(rand.N(d.cfg.BulkSyncInterval)+1, d.cfg.BulkSyncInterval, func() { d.sendAll(d.bulkSyncRound()) })
	reap := reapInterval(d.cfg)
	go d.every(reap, reap, func() { d.reap(d.now()) })
	for range syncWorkers {
		go d.syncWorker()
	}
	if d.obs.Load() != nil {
		d.wg.Add(1)
		go d.every(observeFirst, observeInterval, d.observeRound)
	}
}

// every calls fn after first and then every interval until Shutdown. The
// caller has added it to d.wg.
func (d *DB) every(first, interval time.Duration, fn func()) {
	defer d.wg.Done()
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			t.Reset(interval)
			fn()
		}
	}
}

// Join contacts the given seeds ("host:port" or "name/host:port") and
// returns how many answered. It then bulk-syncs every joined network.
func (d *DB) Join(seeds []string) (int, error) {
	if d.isClosed() {
		return 0, errClosed
	}
	n, err := d.ml.Join(seeds)
	if err != nil {
		return n, fmt.Errorf("gossip: joining the cluster via %v: %w (check the addresses, ports and gossip keys)", seeds, err)
	}
	d.observeRound() // members known now; learn the NAT before the first round
	d.mu.Lock()
	answered := d.seedNamesLocked(seeds)
	for id, nw := range d.networks {
		for _, p := range joinSyncTargets(d.networkPeersLocked(id), answered) {
			d.askJoinSyncLocked(nw, p)
		}
	}
	d.mu.Unlock()
	return n, nil
}

// seedNamesLocked returns the names of the members at the seeds'
// addresses. They answered the join with a push/pull, so unlike the rest
// of the cluster they already know this node and will answer its bulk
// syncs.
func (d *DB) seedNamesLocked(seeds []string) map[string]bool {
	want := make(map[string]bool, len(seeds))
	for _, s := range seeds {
		if i := strings.LastIndexByte(s, '/'); i >= 0 {
			s = s[i+1:]
		}
		if ap, err := netip.ParseAddrPort(s); err == nil {
			want[netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()] = true
		}
	}
	out := make(map[string]bool)
	for name, m := range d.members {
		if name != d.name && m.visible() && want[m.addr.String()] {
			out[name] = true
		}
	}
	return out
}

// joinSyncTargets picks joinSyncPeers of peers, those in answered first.
func joinSyncTargets(peers []string, answered map[string]bool) []string {
	var first, rest []string
	for _, p := range peers {
		if answered[p] {
			first = append(first, p)
		} else {
			rest = append(rest, p)
		}
	}
	out := pickRandom(first, joinSyncPeers)
	return append(out, pickRandom(rest, joinSyncPeers-len(out))...)
}

// Shutdown stops the node abruptly, without telling anyone: to its peers
// it looks like a crash. It is safe to call more than once.
func (d *DB) Shutdown() error {
	d.shutOnce.Do(func() {
		d.mu.Lock()
		d.closed = true
		d.mu.Unlock()
		close(d.stop)
		d.shutErr = d.ml.Shutdown()
		d.wg.Wait()
		d.disp.close()
	})
	return d.shutErr
}

func (d *DB) isClosed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.closed
}

// LocalName returns this node's name.
func (d *DB) LocalName() string { return d.name }

// Keyring returns the gossip keyring for key rotation by the caller
// (install, use, remove), or nil when the DB was started without keys.
func (d *DB) Keyring() *memberlist.Keyring { return d.keyring }

// RTT returns the estimated round trip to node from Vivaldi coordinates,
// and false when there is no estimate yet.
func (d *DB) RTT(node string) (time.Duration, bool) { return d.viv.distance(node) }

// ClockSkew estimates node's wall clock minus this node's, from the clock
// each probe ack carries. Gossip itself never depends on wall clocks; the
// estimate is for diagnostics (token expiry and key records do use time).
func (d *DB) ClockSkew(node string) (time.Duration, bool) { return d.viv.clockSkew(node) }

// Watch registers fn for every event after this call, in order, from a
// goroutine owned by the DB; use Walk for the state before. fn may call
// back into the DB, but must not call Shutdown or Leave, and should return
// quickly (later events wait for it). cancel stops delivery; an event being
// delivered while cancel runs may still reach fn.
func (d *DB) Watch(fn func(Event)) (cancel func()) { return d.disp.watch(fn) }

// Stats returns a snapshot of the counters.
func (d *DB) Stats() Stats {
	var s Stats
	d.stats.fill(&s)
	s.Entries = make(map[string]int)
	s.Queued = make(map[string]int)
	d.mu.Lock()
	for id, n := range d.networks {
		s.Entries[id] = n.count
		s.Queued[id] = n.queue.len()
	}
	s.Queued[netQueueStatsKey] = d.netQueue.len()
	s.PendingSyncs = len(d.pendingSyncs)
	d.mu.Unlock()
	s.PendingWatchEvents = d.disp.pending()
	s.LTime, s.NetworkLTime = d.clock.Time(), d.netClock.Time()
	return s
}

// netQueueStatsKey is the Stats.Queued key for queued membership records.
const netQueueStatsKey = "(membership)"

// pickRandom returns up to k distinct elements of s, in random order.
func pickRandom(s []string, k int) []string {
	s = append([]string(nil), s...)
	rand.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	if len(s) > k {
		s = s[:k]
	}
	return s
}
