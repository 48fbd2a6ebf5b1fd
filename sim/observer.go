package sim

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"meshnet.dev/meshnet/gossip"
)

// Names the simulated workload uses.
const (
	// testNetwork is the network every node joins and publishes its
	// endpoint in.
	testNetwork = "blue"
	// endpointTable holds one endpoint per node, like routing's FDB table.
	endpointTable = "ep"
	// probeTable holds the writes whose spreading is timed.
	probeTable = "probe"
)

// observer turns every node's watch events into what the measurements
// need: running counts per node, and the arrival times of the write or
// failure currently being timed. Watchers run on each DB's dispatcher
// goroutine; counts are atomic and the timed events take mu.
type observer struct {
	alive []atomic.Int32 // other members each node sees alive (its own join
	// is emitted before a watcher can be registered)
	inNet []atomic.Int32 // members of testNetwork each node knows of
	puts  []atomic.Int64 // EntryPut events per node, any network

	mu      sync.Mutex
	arrival *arrival // the write or failure being timed, or nil
	crashed map[string]bool
	falsePs []falsePositive
}

// falsePositive is a live node declared failed by another.
type falsePositive struct {
	observer, subject string
	at                time.Time
}

func newObserver(capacity int) *observer {
	return &observer{
		alive:   make([]atomic.Int32, capacity),
		inNet:   make([]atomic.Int32, capacity),
		puts:    make([]atomic.Int64, capacity),
		crashed: make(map[string]bool),
	}
}

// handle is node idx's watcher.
func (o *observer) handle(idx int, e gossip.Event) {
	switch e.Kind {
	case gossip.MemberJoin:
		o.alive[idx].Add(1)
	case gossip.MemberFailed:
		o.alive[idx].Add(-1)
		o.failed(idx, e.Member.Name)
	case gossip.MemberLeft:
		o.alive[idx].Add(-1)
	case gossip.NetworkJoin:
		if e.Network == testNetwork {
			o.inNet[idx].Add(1)
		}
	case gossip.NetworkLeave:
		if e.Network == testNetwork {
			o.inNet[idx].Add(-1)
		}
	case gossip.EntryPut:
		o.puts[idx].Add(1)
		if e.Entry.Table == probeTable {
			o.mu.Lock()
			if a := o.arrival; a != nil && a.kind == arrivalWrite && a.subject == e.Entry.Owner+"/"+e.Entry.Key {
				a.arrive(idx)
			}
			o.mu.Unlock()
		}
	}
}

func (o *observer) failed(idx int, subject string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.crashed[subject] {
		o.falsePs = append(o.falsePs, falsePositive{observer: nodeName(idx), subject: subject, at: time.Now()})
		return
	}
	if a := o.arrival; a != nil && a.kind == arrivalFailure && a.subject == subject {
		a.arrive(idx)
	}
}

// markCrashed records that name is down on purpose: its failure is no
// false positive.
func (o *observer) markCrashed(name string) {
	o.mu.Lock()
	o.crashed[name] = true
	o.mu.Unlock()
}

// falsePositives returns those seen since index from.
func (o *observer) falsePositives(from int) []falsePositive {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.falsePs[from:])
}

func (o *observer) falsePositiveCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.falsePs)
}

// time starts timing a write ("owner/key") or a failure (node name) that
// want nodes must see; at most one at a time.
// The node with index self (the writer; -1 for none) is not counted.
func (o *observer) time(kind arrivalKind, subject string, self, want int) *arrival {
	a := &arrival{kind: kind, subject: subject, self: self, start: time.Now(), want: want, done: make(chan struct{}), at: make(map[int]time.Duration)}
	o.mu.Lock()
	o.arrival = a
	o.mu.Unlock()
	return a
}

// stopTiming ends a and returns the arrival delays it recorded, sorted.
func (o *observer) stopTiming(a *arrival) []time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.arrival == a {
		o.arrival = nil
	}
	out := make([]time.Duration, 0, len(a.at))
	for _, d := range a.at {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

type arrivalKind uint8

const (
	arrivalWrite arrivalKind = iota + 1
	arrivalFailure
)

// arrival records when each node first saw one thing. Guarded by
// observer.mu.
type arrival struct {
	kind    arrivalKind
	subject string
	self    int
	start   time.Time
	want    int
	at      map[int]time.Duration
	done    chan struct{} // closed once want nodes saw it
}

func (a *arrival) arrive(idx int) {
	if _, ok := a.at[idx]; ok || idx == a.self {
		return
	}
	a.at[idx] = time.Since(a.start)
	if len(a.at) == a.want {
		close(a.done)
	}
}
