package memory

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"time"
)

const (
	// DefaultIdleAfter is how long traffic must have stopped before the
	// pools' memory is given back.
	DefaultIdleAfter = 5 * time.Second
	// tick is how often the watcher looks at traffic and the heap.
	tick = time.Second
	// peakStep and peakMinStep are how much a heap must exceed the last
	// profiled peak, as a ratio and in bytes, before the profile is
	// written again, so a plateau is written once.
	peakStep    = 1.1
	peakMinStep = 4 << 20
	// quietGrowth is how much the heap of a quiet node may grow after
	// memory was given back before it is given back again. A quiet node
	// still allocates (gossip, reconciliation: about 0.2 MiB/s), and the
	// collector would let that garbage grow to its goal, twice the live
	// heap, all of it resident: the live heap counts every 64 KiB buffer
	// in full, most of whose pages are never touched, so that goal is
	// several times what the garbage needs.
	quietGrowth = 2 << 20
	// heapObjects is the runtime metric of live and unswept heap objects.
	heapObjects = "/memory/classes/heap/objects:bytes"
)

// Config is what the watcher does.
type Config struct {
	// HeapProfile, if set, is a file the heap profile is written to each
	// time the heap reaches a new peak.
	HeapProfile string
	// Traffic returns a count that grows while the data path moves packets;
	// nil: memory is never given back early.
	Traffic func() uint64
	// IdleAfter is how long Traffic must stay still before memory is given
	// back; 0 means DefaultIdleAfter.
	IdleAfter time.Duration
	Logger    *slog.Logger
}

// Watcher is a running memory watcher.
type Watcher struct {
	cfg      Config
	ticks    <-chan time.Time
	stopTick func()
	trim     func()
	heap     func() uint64 // live and unswept heap objects, bytes
	done     chan struct{}
	stopped  chan struct{}

	// Owned by the run goroutine.
	lastTraffic uint64
	lastMove    time.Time
	trimmed     bool
	trimmedHeap uint64 // the heap just after memory was last given back
	peak        uint64
	sample      []metrics.Sample
}

// Start starts watching.
func Start(cfg Config) (*Watcher, error) {
	if cfg.HeapProfile != "" && !filepath.IsAbs(cfg.HeapProfile) {
		return nil, fmt.Errorf("memory: heap profile %q must be an absolute path", cfg.HeapProfile)
	}
	t := time.NewTicker(tick)
	w := newWatcher(cfg, release)
	w.ticks, w.stopTick = t.C, t.Stop
	w.start(time.Now())
	return w, nil
}

func newWatcher(cfg Config, trim func()) *Watcher {
	if cfg.IdleAfter == 0 {
		cfg.IdleAfter = DefaultIdleAfter
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{
		cfg: cfg, stopTick: func() {}, trim: trim,
		done: make(chan struct{}), stopped: make(chan struct{}),
		sample: []metrics.Sample{{Name: heapObjects}},
	}
	w.heap = w.readHeap
	return w
}

func (w *Watcher) start(now time.Time) {
	w.lastMove = now
	go w.run()
}

// Stop ends the watcher.
func (w *Watcher) Stop() {
	close(w.done)
	<-w.stopped
	w.stopTick()
}

func (w *Watcher) run() {
	defer close(w.stopped)
	for {
		select {
		case <-w.done:
			return
		case now := <-w.ticks:
			w.idleCheck(now)
			w.peakCheck()
		}
	}
}

// idleCheck gives memory back once traffic has been still for IdleAfter,
// and again whenever the quiet node's heap has grown by quietGrowth since.
func (w *Watcher) idleCheck(now time.Time) {
	if w.cfg.Traffic == nil {
		return
	}
	if t := w.cfg.Traffic(); t != w.lastTraffic {
		w.lastTraffic, w.lastMove, w.trimmed = t, now, false
		return
	}
	if now.Sub(w.lastMove) < w.cfg.IdleAfter {
		return
	}
	if w.trimmed && w.heap() < w.trimmedHeap+quietGrowth {
		return
	}
	first := !w.trimmed
	w.trimmed = true
	w.trim()
	w.trimmedHeap = w.heap()
	if !first {
		return
	}
	w.cfg.Logger.Debug("traffic stopped; returned free memory to the system")
	if w.cfg.HeapProfile != "" {
		w.writeProfile(IdleProfile(w.cfg.HeapProfile))
	}
}

// IdleProfile is the file the heap profile is written to once traffic has
// stopped and memory was given back: what a quiet node keeps.
func IdleProfile(heapProfile string) string {
	ext := filepath.Ext(heapProfile)
	return strings.TrimSuffix(heapProfile, ext) + ".idle" + ext
}

// release empties the buffer pools (sync.Pool keeps its contents through
// one collection, so it takes two) and returns the freed pages.
func release() {
	runtime.GC()
	debug.FreeOSMemory()
}

// peakCheck writes the heap profile when the heap is clearly above the
// last peak written.
func (w *Watcher) peakCheck() {
	if w.cfg.HeapProfile == "" {
		return
	}
	heap := w.heap()
	if heap == 0 {
		return
	}
	if w.peak > 0 && (heap < w.peak+peakMinStep || float64(heap) <= float64(w.peak)*peakStep) {
		return
	}
	w.peak = heap
	w.writeProfile(w.cfg.HeapProfile)
}

// readHeap reads the bytes of live and unswept heap objects: what the
// collector's goal is measured against.
func (w *Watcher) readHeap() uint64 {
	metrics.Read(w.sample)
	if w.sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return w.sample[0].Value.Uint64()
}

// writeProfile writes the heap profile to path; a failure is logged, not
// fatal: profiling is a diagnostic.
func (w *Watcher) writeProfile(path string) {
	if err := writeHeapProfile(path); err != nil {
		w.cfg.Logger.Warn("writing the heap profile", "file", path, "err", err)
	}
}

// writeHeapProfile replaces path with the current heap profile, atomically,
// so a reader never sees half a profile.
func writeHeapProfile(path string) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	err = pprof.Lookup("heap").WriteTo(f, 0)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
