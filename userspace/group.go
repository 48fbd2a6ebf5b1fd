package userspace

import (
	"io"
	"sync"
)

// group owns goroutines and the sockets they block on, so that close can
// stop them all: it closes every tracked socket (which unblocks whoever waits
// on it) and waits for every goroutine. Once closing, it refuses new
// goroutines and sockets.
type group struct {
	mu      sync.Mutex
	closing bool
	open    map[io.Closer]struct{} // guarded by mu
	wg      sync.WaitGroup
}

func newGroup() *group {
	return &group{open: make(map[io.Closer]struct{})}
}

// track registers c to be closed by close. It returns false, closing c
// itself, when the group is already closing.
func (g *group) track(c io.Closer) bool {
	g.mu.Lock()
	if g.closing {
		g.mu.Unlock()
		c.Close()
		return false
	}
	g.open[c] = struct{}{}
	g.mu.Unlock()
	return true
}

// release closes c and forgets it.
func (g *group) release(c io.Closer) {
	g.mu.Lock()
	delete(g.open, c)
	g.mu.Unlock()
	c.Close()
}

// spawn runs f in a goroutine the group waits for. It returns false, without
// running f, when the group is closing.
func (g *group) spawn(f func()) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return false
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		f()
	}()
	return true
}

// isClosing reports whether close has begun.
func (g *group) isClosing() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closing
}

// close closes every tracked socket and waits for every goroutine.
func (g *group) close() {
	g.mu.Lock()
	g.closing = true
	open := g.open
	g.open = nil
	g.mu.Unlock()
	for c := range open {
		cut(c)
	}
	g.wg.Wait()
}
