package tun

import (
	"errors"
	"sync"

	"meshnet.dev/meshnet/internal/packet"
)

// wireBufSize is the size of each of the Wire's buffers: room for a frame of
// the largest netstack MTU.
const wireBufSize = packet.EthHeaderLen + maxNetstackMTU

// Wire cables two devices back to back: every frame one reads is written to
// the other, as if their ports were plugged into each other. It stands in
// for the whole overlay in tests and demos of netstack mode (with the
// devices' Neighbors mapping each side's addresses to the other's MAC).
type Wire struct {
	a, b      Device
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// NewWire starts copying frames between a and b, one goroutine per direction.
// The Wire owns both devices from then on: Close closes them and stops the
// goroutines.
func NewWire(a, b Device) *Wire {
	w := &Wire{a: a, b: b}
	w.wg.Add(2)
	go w.copy(a, b)
	go w.copy(b, a)
	return w
}

func (w *Wire) copy(from, to Device) {
	defer w.wg.Done()
	n := from.BatchSize()
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, wireBufSize)
	}
	sizes := make([]int, n)
	frames := make([][]byte, n)
	for {
		k, err := from.Read(bufs, sizes, 0)
		if errors.Is(err, ErrClosed) {
			return
		}
		for i := range k {
			frames[i] = bufs[i][:sizes[i]]
		}
		if _, err := to.Write(frames[:k], 0); errors.Is(err, ErrClosed) {
			return
		}
	}
}

// Close closes both devices and waits for the copying goroutines to stop.
// It returns the first error from closing a device.
func (w *Wire) Close() error {
	w.closeOnce.Do(func() {
		w.closeErr = errors.Join(w.a.Close(), w.b.Close())
		w.wg.Wait()
	})
	return w.closeErr
}
