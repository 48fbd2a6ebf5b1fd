package tun

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"meshnet.dev/meshnet/internal/packet"
	"meshnet.dev/meshnet/internal/testenv"
)

const testOffset = 128

func testBufs(n, size int) ([][]byte, []int) {
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, size)
	}
	return bufs, make([]int, n)
}

// waitErr returns what ch delivers, failing the test after a deadline.
func waitErr(t *testing.T, ch <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(5 * time.Second):
		t.Fatalf("%s did not return within 5s", what)
		return nil
	}
}

func TestChannelReadBatchesQueuedFrames(t *testing.T) {
	c := NewChannel("ch0", packet.MAC{2, 0, 0, 0, 0, 1}, 1400)
	defer c.Close()
	for i := range 5 {
		c.In <- bytes.Repeat([]byte{byte(i + 1)}, 60+i)
	}
	bufs, sizes := testBufs(8, testOffset+100)
	n, err := c.Read(bufs, sizes, testOffset)
	if err != nil || n != 5 {
		t.Fatalf("Read = %d, %v; want 5 frames", n, err)
	}
	for i := range n {
		want := bytes.Repeat([]byte{byte(i + 1)}, 60+i)
		if got := bufs[i][testOffset : testOffset+sizes[i]]; !bytes.Equal(got, want) {
			t.Errorf("frame %d = %x, want %x", i, got, want)
		}
	}
}

func TestChannelReadStopsAtLenBufs(t *testing.T) {
	c := NewChannel("ch0", packet.MAC{}, 1400)
	defer c.Close()
	for range 3 {
		c.In <- []byte{1, 2, 3}
	}
	bufs, sizes := testBufs(2, 16)
	if n, err := c.Read(bufs, sizes, 0); n != 2 || err != nil {
		t.Fatalf("first Read = %d, %v; want 2", n, err)
	}
	if n, err := c.Read(bufs, sizes, 0); n != 1 || err != nil {
		t.Fatalf("second Read = %d, %v; want the 1 left", n, err)
	}
}

func TestChannelReadBlocksUntilAFrameArrives(t *testing.T) {
	c := NewChannel("ch0", packet.MAC{}, 1400)
	defer c.Close()
	bufs, sizes := testBufs(4, 64)
	got := make(chan error, 1)
	go func() {
		n, err := c.Read(bufs, sizes, 4)
		if err == nil && (n != 1 || sizes[0] != 3) {
			err = errors.New("wrong frame count or size")
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("Read returned %v before any frame was sent", err)
	default:
	}
	c.In <- []byte{7, 8, 9}
	if err := waitErr(t, got, "Read"); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bufs[0][4:7], []byte{7, 8, 9}) {
		t.Fatalf("frame = %x", bufs[0][4:7])
	}
}

func TestChannelReadReportsOversizedFrame(t *testing.T) {
	c := NewChannel("ch0", packet.MAC{}, 1400)
	defer c.Close()
	c.In <- make([]byte, 10)
	c.In <- make([]byte, 100)
	bufs, sizes := testBufs(4, 20)
	n, err := c.Read(bufs, sizes, 0)
	if n != 1 || err == nil {
		t.Fatalf("Read = %d, %v; want the first frame and an error for the second", n, err)
	}
}

func TestChannelWriteSendsCopies(t *testing.T) {
	c := NewChannel("ch0", packet.MAC{}, 1400)
	defer c.Close()
	frame := []byte{0xaa, 0xbb, 1, 2, 3}
	if n, err := c.Write([][]byte{frame}, 2); n != 1 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	frame[2] = 99 // the device must not have kept the caller's buffer
	if got := <-c.Out; !bytes.Equal(got, []byte{1, 2, 3}) {
		t.Fatalf("Out got %x, want 010203", got)
	}
}

func TestChannelCloseUnblocksReadAndWrite(t *testing.T) {
	c := NewChannel("ch0", packet.MAC{}, 1400)
	bufs, sizes := testBufs(1, 64)
	readErr := make(chan error, 1)
	go func() { _, err := c.Read(bufs, sizes, 0); readErr <- err }()

	for range cap(c.Out) {
		if _, err := c.Write([][]byte{{1}}, 0); err != nil {
			t.Fatal(err)
		}
	}
	writeErr := make(chan error, 1)
	go func() { _, err := c.Write([][]byte{{2}}, 0); writeErr <- err }()

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := waitErr(t, readErr, "Read"); !errors.Is(err, ErrClosed) {
		t.Errorf("blocked Read after Close = %v, want ErrClosed", err)
	}
	if err := waitErr(t, writeErr, "Write"); !errors.Is(err, ErrClosed) {
		t.Errorf("blocked Write after Close = %v, want ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestChannelReadAfterCloseIgnoresQueuedFrames(t *testing.T) {
	c := NewChannel("ch0", packet.MAC{}, 1400)
	c.In <- []byte{1}
	c.Close()
	bufs, sizes := testBufs(1, 64)
	if n, err := c.Read(bufs, sizes, 0); n != 0 || !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close = %d, %v; want 0, ErrClosed", n, err)
	}
	if n, err := c.Write([][]byte{{1}}, 0); n != 0 || !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close = %d, %v; want 0, ErrClosed", n, err)
	}
}

func TestChannelAccessors(t *testing.T) {
	mac := packet.MAC{2, 1, 2, 3, 4, 5}
	c := NewChannel("ch7", mac, 1380)
	if c.Name() != "ch7" || c.MTU() != 1380 || c.HardwareAddr() != mac || c.BatchSize() < 1 {
		t.Fatalf("accessors = %q %d %v %d", c.Name(), c.MTU(), c.HardwareAddr(), c.BatchSize())
	}
}

func TestChannelReadDoesNotAllocate(t *testing.T) {
	testenv.SkipAllocsUnderRace(t)
	c := NewChannel("ch0", packet.MAC{}, 1400)
	defer c.Close()
	frame := make([]byte, 1000)
	bufs, sizes := testBufs(4, testOffset+1500)
	allocs := testing.AllocsPerRun(200, func() {
		c.In <- frame
		if n, err := c.Read(bufs, sizes, testOffset); n != 1 || err != nil {
			t.Fatalf("Read = %d, %v", n, err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Channel.Read allocates %.1f times per call, want 0", allocs)
	}
}
