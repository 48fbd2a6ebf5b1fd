package gossip

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestDispatcherOrderAndSubscription(t *testing.T) {
	d := newDispatcher()
	defer d.close()
	d.emit(Event{Kind: EntryPut, Network: "before"})
	var mu sync.Mutex
	var got []string
	cancel := d.watch(func(e Event) {
		mu.Lock()
		got = append(got, e.Network)
		mu.Unlock()
	})
	for i := range 100 {
		d.emit(Event{Kind: EntryPut, Network: fmt.Sprint(i)})
	}
	waitFor(t, 5*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(got) != 100 {
			return fmt.Errorf("%d events delivered", len(got))
		}
		return nil
	})
	for i, n := range got {
		if n != fmt.Sprint(i) {
			t.Fatalf("event %d is %q: out of order or from before subscribing", i, n)
		}
	}
	cancel()
	d.emit(Event{Kind: EntryPut, Network: "after"})
	d.emit(Event{Kind: EntryPut, Network: "sync"})
	waitFor(t, 5*time.Second, func() error {
		if d.pending() != 0 {
			return fmt.Errorf("%d pending", d.pending())
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 100 {
		t.Errorf("cancelled watcher got %v", got[100:])
	}
}

// A watcher may call back into the DB, and a slow one does not block
// writes.
func TestWatchCallbackReentersDB(t *testing.T) {
	d := loneDB(t)
	release := make(chan struct{})
	seen := make(chan int, 100)
	d.Watch(func(e Event) {
		if e.Kind != EntryPut {
			return
		}
		<-release
		seen <- len(d.Lookup(e.Network, e.Entry.Table, e.Entry.Key))
	})
	for i := range 10 {
		if err := d.Put("blue", "t", fmt.Sprint(i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if got := d.Stats().PendingWatchEvents; got < 9 {
		t.Errorf("pending %d while the watcher is blocked", got)
	}
	close(release)
	for range 10 {
		select {
		case n := <-seen:
			if n != 1 {
				t.Errorf("lookup from callback saw %d entries", n)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("watcher stalled")
		}
	}
}
