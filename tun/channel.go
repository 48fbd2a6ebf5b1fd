package tun

import (
	"fmt"
	"sync"

	"meshnet.dev/meshnet/internal/packet"
)

// channelQueueLen is how many frames In and Out buffer before senders block.
const channelQueueLen = 256

// channelBatchSize is the most frames one Channel.Read returns.
const channelBatchSize = 128

// Channel is a working in-memory Device for tests. Frames sent on In are what
// "the kernel" hands the data path: Read returns them. Frames the data path
// writes come out on Out. Channel is safe for concurrent use.
type Channel struct {
	// In carries frames into the device; Read copies them out, so a sender
	// may reuse nothing it has sent but also need not keep it.
	In chan []byte
	// Out carries copies of written frames. Write blocks while Out is full;
	// Close unblocks it.
	Out chan []byte

	name string
	mac  packet.MAC
	mtu  int

	q heldQueue[[]byte] // frames WaitReadable took from In

	closeOnce sync.Once
	closed    chan struct{}
}

var _ Device = (*Channel)(nil)

// NewChannel returns an open Channel device with buffered In and Out.
func NewChannel(name string, mac packet.MAC, mtu int) *Channel {
	return &Channel{
		In:     make(chan []byte, channelQueueLen),
		Out:    make(chan []byte, channelQueueLen),
		name:   name,
		mac:    mac,
		mtu:    mtu,
		closed: make(chan struct{}),
	}
}

// Read blocks for the first frame on In, then takes whatever else is queued,
// up to len(bufs) and BatchSize. A frame that does not fit its buffer is
// lost and reported as an error after the frames before it.
func (c *Channel) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	return readBlocking(c, bufs, sizes, offset)
}

// WaitReadable blocks until a frame is on In (it takes it, to be read
// next) or the device is closed.
func (c *Channel) WaitReadable() error { return c.q.wait(c.In, c.closed) }

// TryRead is Read without waiting: it takes the frame WaitReadable holds,
// then what is queued on In, possibly nothing.
func (c *Channel) TryRead(bufs [][]byte, sizes []int, offset int) (int, error) {
	if isClosed(c.closed) {
		return 0, ErrClosed
	}
	limit := min(len(bufs), len(sizes), channelBatchSize)
	c.q.mu.Lock()
	defer c.q.mu.Unlock()
	for n := 0; n < limit; n++ {
		frame, ok := c.q.nextLocked(c.In)
		if !ok {
			return n, nil
		}
		dst := bufs[n][offset:]
		if len(frame) > len(dst) {
			return n, fmt.Errorf("tun: channel %s: frame of %d bytes does not fit a %d-byte buffer at offset %d; pass larger buffers", c.name, len(frame), len(dst), offset)
		}
		sizes[n] = copy(dst, frame)
	}
	return limit, nil
}

// Write sends a copy of each bufs[i][offset:] on Out, blocking while Out is
// full. After Close it returns ErrClosed and how many frames went out.
func (c *Channel) Write(bufs [][]byte, offset int) (int, error) {
	for i, b := range bufs {
		// Checked first so a closed device never sends, even when Out has room.
		select {
		case <-c.closed:
			return i, ErrClosed
		default:
		}
		frame := append([]byte(nil), b[offset:]...)
		select {
		case c.Out <- frame:
		case <-c.closed:
			return i, ErrClosed
		}
	}
	return len(bufs), nil
}

// BatchSize is the most frames one Read returns.
func (c *Channel) BatchSize() int { return channelBatchSize }

// MTU returns the MTU given to NewChannel.
func (c *Channel) MTU() int { return c.mtu }

// Name returns the name given to NewChannel.
func (c *Channel) Name() string { return c.name }

// HardwareAddr returns the MAC given to NewChannel.
func (c *Channel) HardwareAddr() packet.MAC { return c.mac }

// Close makes pending and later Reads and Writes return ErrClosed. In and Out
// stay open, so a late sender on In does not panic; its frame is never read.
func (c *Channel) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return nil
}
