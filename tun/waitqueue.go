package tun

// Waiting without reading, for the devices whose frames arrive on a Go
// channel (Channel, Netstack). A channel cannot be peeked at, so
// WaitReadable takes one frame off it and holds it; the next TryRead hands
// the held frames out first, then what is still queued. Read is the two
// together, as for every device.

import "sync"

// heldQueue holds what waits have taken off a device's channel of T.
type heldQueue[T any] struct {
	mu   sync.Mutex // guards held; TryRead holds it while it takes frames
	held []T
}

// wait blocks until a frame is held or one comes on ch, which it then
// holds, or until closed is closed.
func (q *heldQueue[T]) wait(ch <-chan T, closed <-chan struct{}) error {
	if isClosed(closed) {
		return ErrClosed
	}
	q.mu.Lock()
	n := len(q.held)
	q.mu.Unlock()
	if n > 0 {
		return nil
	}
	select {
	case f := <-ch:
		q.mu.Lock()
		q.held = append(q.held, f)
		q.mu.Unlock()
		return nil
	case <-closed:
		return ErrClosed
	}
}

// nextLocked takes the next frame, held or queued on ch, without waiting.
// Must hold mu.
func (q *heldQueue[T]) nextLocked(ch <-chan T) (T, bool) {
	if k := len(q.held); k > 0 {
		f := q.held[0]
		copy(q.held, q.held[1:])
		var zero T
		q.held[k-1] = zero
		q.held = q.held[:k-1]
		return f, true
	}
	select {
	case f := <-ch:
		return f, true
	default:
		var zero T
		return zero, false
	}
}

// isClosed reports whether closed is closed. Reads check it first, so
// that frames still queued after Close are never handed out.
func isClosed(closed <-chan struct{}) bool {
	select {
	case <-closed:
		return true
	default:
		return false
	}
}

// pollReader is a device that can wait without reading and read without
// waiting.
type pollReader interface {
	WaitReadable() error
	TryRead(bufs [][]byte, sizes []int, offset int) (int, error)
}

// readBlocking is Read for d: it waits and reads until it has read
// something or an error.
func readBlocking(d pollReader, bufs [][]byte, sizes []int, offset int) (int, error) {
	if min(len(bufs), len(sizes)) == 0 {
		return 0, nil
	}
	for {
		if err := d.WaitReadable(); err != nil {
			return 0, err
		}
		if n, err := d.TryRead(bufs, sizes, offset); n > 0 || err != nil {
			return n, err
		}
	}
}
