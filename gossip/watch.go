package gossip

import (
	"sync"
	"sync/atomic"
)

// dispatcher delivers events to watchers in order, from its own goroutine,
// so that watchers never run under the DB's lock and a slow watcher never
// stalls gossip. Its queue is unbounded by design: dropping an event would
// leave a watcher's view wrong for good, and Stats reports the backlog.
type dispatcher struct {
	mu       sync.Mutex
	queue    []queuedEvent
	watchers []*watcher
	nextSeq  uint64
	backlog  atomic.Int64 // emitted, not yet delivered (queued or in hand)
	wake     chan struct{}
	done     chan struct{}
	stopped  chan struct{}
}

type queuedEvent struct {
	seq uint64
	ev  Event
}

type watcher struct {
	fn        func(Event)
	from      uint64 // first event sequence this watcher gets
	cancelled atomic.Bool
}

func newDispatcher() *dispatcher {
	d := &dispatcher{
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go d.run()
	return d
}

// emit queues events; callers may hold the DB lock (the dispatcher never
// takes it), which keeps the queue in the order state changed.
func (d *dispatcher) emit(evs ...Event) {
	if len(evs) == 0 {
		return
	}
	d.mu.Lock()
	for _, ev := range evs {
		d.queue = append(d.queue, queuedEvent{seq: d.nextSeq, ev: ev})
		d.nextSeq++
	}
	d.backlog.Add(int64(len(evs)))
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *dispatcher) watch(fn func(Event)) (cancel func()) {
	w := &watcher{fn: fn}
	d.mu.Lock()
	w.from = d.nextSeq
	d.watchers = append(d.watchers, w)
	d.mu.Unlock()
	return func() {
		w.cancelled.Store(true)
		d.mu.Lock()
		for i, x := range d.watchers {
			if x == w {
				d.watchers = append(d.watchers[:i:i], d.watchers[i+1:]...)
				break
			}
		}
		d.mu.Unlock()
	}
}

func (d *dispatcher) pending() int { return int(d.backlog.Load()) }

func (d *dispatcher) run() {
	defer close(d.stopped)
	for {
		select {
		case <-d.done:
			return
		case <-d.wake:
		}
		for {
			d.mu.Lock()
			batch := d.queue
			d.queue = nil
			ws := d.watchers
			d.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			for _, q := range batch {
				for _, w := range ws {
					if q.seq >= w.from && !w.cancelled.Load() {
						w.fn(q.ev)
					}
				}
				d.backlog.Add(-1)
				select {
				case <-d.done:
					return
				default:
				}
			}
		}
	}
}

// close stops delivery; events still queued are discarded. It must not be
// called from a watcher callback.
func (d *dispatcher) close() {
	close(d.done)
	<-d.stopped
}
