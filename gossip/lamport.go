package gossip

import "sync/atomic"

// lamportClock orders events without wall clocks: a node's writes get
// increasing times, and witnessing a remote time moves the clock past it,
// so a write made after seeing another always orders after it.
type lamportClock struct {
	t atomic.Uint64
}

// Time returns the current time.
func (c *lamportClock) Time() uint64 { return c.t.Load() }

// Increment advances the clock and returns the new time.
func (c *lamportClock) Increment() uint64 { return c.t.Add(1) }

// Witness moves the clock to at least v, so that the next Increment
// returns a time greater than v.
func (c *lamportClock) Witness(v uint64) {
	for {
		cur := c.t.Load()
		if v <= cur || c.t.CompareAndSwap(cur, v) {
			return
		}
	}
}
