package memory

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock calls the watcher's checks tick by tick, as its loop would,
// on the test's goroutine.
type fakeClock struct {
	w   *Watcher
	now time.Time
}

func (c *fakeClock) advance(d time.Duration) {
	c.now = c.now.Add(d)
	c.w.idleCheck(c.now)
	c.w.peakCheck()
}

func startFake(t *testing.T, cfg Config, trim func()) (*Watcher, *fakeClock) {
	t.Helper()
	w := newWatcher(cfg, trim)
	c := &fakeClock{w: w, now: time.Unix(1000, 0)}
	w.lastMove = c.now
	return w, c
}

func TestMemoryIsReturnedOnceTrafficStops(t *testing.T) {
	var traffic atomic.Uint64
	var trims atomic.Int32
	w, c := startFake(t, Config{Traffic: traffic.Load, IdleAfter: 5 * time.Second}, func() { trims.Add(1) })
	w.heap = func() uint64 { return 10 << 20 }

	for range 10 { // busy: never trimmed
		traffic.Add(100)
		c.advance(time.Second)
	}
	for range 4 { // quiet, but not long enough
		c.advance(time.Second)
	}
	c.advance(time.Second)
	if got := trims.Load(); got != 1 {
		t.Fatalf("after 6 s without traffic: %d trims, want 1", got)
	}
	for range 20 { // still quiet, the heap no larger: not again
		c.advance(time.Second)
	}
	if got := trims.Load(); got != 1 {
		t.Fatalf("a long quiet spell whose heap did not grow trimmed %d times, want once", got)
	}
	traffic.Add(1) // traffic again, then quiet again: trimmed again
	for range 8 {
		c.advance(time.Second)
	}
	if got := trims.Load(); got != 2 {
		t.Fatalf("second quiet spell: %d trims in all, want 2", got)
	}
}

// TestQuietNodeGivesBackAsItsHeapGrows: while traffic stays still, memory
// is given back again each time the heap has grown by quietGrowth since it
// was last given back, and not for less.
func TestQuietNodeGivesBackAsItsHeapGrows(t *testing.T) {
	var traffic atomic.Uint64
	heap := uint64(10 << 20)
	var trims []uint64 // the heap at each trim
	w, c := startFake(t, Config{Traffic: traffic.Load, IdleAfter: 5 * time.Second}, func() {
		trims = append(trims, heap)
		heap = 10 << 20 // the garbage collected
	})
	w.heap = func() uint64 { return heap }

	traffic.Add(1)
	for range 6 {
		c.advance(time.Second)
	}
	if len(trims) != 1 {
		t.Fatalf("quiet for 5 s: %d trims, want 1", len(trims))
	}
	for range 20 { // garbage, but less than quietGrowth
		heap += (quietGrowth - 1) / 20
		c.advance(time.Second)
	}
	if len(trims) != 1 {
		t.Fatalf("the heap grew by less than %d bytes: %d trims, want 1", quietGrowth, len(trims))
	}
	heap += quietGrowth / 20
	c.advance(time.Second)
	if len(trims) != 2 || trims[1] < 10<<20+quietGrowth {
		t.Fatalf("the heap grew by %d bytes: trims at %v, want a second one", quietGrowth, trims)
	}
	heap += quietGrowth - 1 // measured from the heap after the last trim
	c.advance(time.Second)
	if len(trims) != 2 {
		t.Fatalf("trimmed again before the heap grew by %d bytes since the last time", quietGrowth)
	}

	traffic.Add(1) // traffic: nothing given back however the heap grows
	heap += 100 << 20
	c.advance(time.Second)
	c.advance(time.Second)
	if len(trims) != 2 {
		t.Fatalf("trimmed while traffic moved: %d trims, want 2", len(trims))
	}
}

func TestNoTrafficCounterNeverTrims(t *testing.T) {
	var trims atomic.Int32
	_, c := startFake(t, Config{}, func() { trims.Add(1) })
	for range 30 {
		c.advance(time.Second)
	}
	if trims.Load() != 0 {
		t.Fatal("trimmed without a traffic counter")
	}
}

// sink keeps test allocations alive.
var sink [][]byte

func TestHeapProfileWrittenAtNewPeaks(t *testing.T) {
	runtime.GC() // no garbage from earlier tests inflating the first peak
	path := filepath.Join(t.TempDir(), "heap.pprof")
	_, c := startFake(t, Config{HeapProfile: path}, func() {})
	c.advance(time.Second)
	c.advance(time.Second)
	first := readProfile(t, path, "after the first ticks")
	st, _ := os.Stat(path)
	mtime := st.ModTime()

	// No growth: not rewritten (the file stays the same inode and bytes).
	c.advance(time.Second)
	c.advance(time.Second)
	if st, _ := os.Stat(path); !st.ModTime().Equal(mtime) {
		t.Fatal("profile rewritten without a new peak")
	}

	sink = append(sink, make([]byte, 256<<20)) // a clear new peak
	defer func() { sink = nil }()
	c.advance(time.Second)
	c.advance(time.Second)
	second, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(first, second) {
		t.Fatal("profile not rewritten at a new peak")
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temporary file left behind: %v", err)
	}
}

func TestStartsAndStops(t *testing.T) {
	var calls atomic.Int32
	w, err := Start(Config{Traffic: func() uint64 { calls.Add(1); return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling the watcher's first tick
	}
	w.Stop()
	if calls.Load() == 0 {
		t.Fatal("the running watcher never read the traffic counter")
	}
}

func TestRelativeHeapProfileRefused(t *testing.T) {
	if _, err := Start(Config{HeapProfile: "heap.pprof"}); err == nil {
		t.Fatal("a relative heap profile path was accepted")
	}
}

func TestIdleHeapProfileWrittenWhenMemoryIsReturned(t *testing.T) {
	path := filepath.Join(t.TempDir(), "heap.pprof")
	var traffic atomic.Uint64
	_, c := startFake(t, Config{Traffic: traffic.Load, IdleAfter: 2 * time.Second, HeapProfile: path}, func() {})
	idle := IdleProfile(path)
	if want := filepath.Join(filepath.Dir(path), "heap.idle.pprof"); idle != want {
		t.Fatalf("IdleProfile(%q) = %q, want %q", path, idle, want)
	}
	traffic.Add(1)
	c.advance(time.Second)
	if _, err := os.Stat(idle); !os.IsNotExist(err) {
		t.Fatalf("idle profile exists while traffic moves (stat: %v)", err)
	}
	c.advance(time.Second)
	c.advance(time.Second)
	readProfile(t, idle, "once traffic stopped")
}

// readProfile reads a profile that must have been written by when, and
// checks it is a pprof profile (gzip-compressed).
func readProfile(t *testing.T, path, when string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no profile %s: %v", when, err)
	}
	if !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		t.Fatalf("the profile written %s is not gzip-compressed pprof", when)
	}
	return data
}
