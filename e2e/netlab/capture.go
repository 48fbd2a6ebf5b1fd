package netlab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Capture is tcpdump writing what crosses a host's interface to a pcap
// file. It delivers every packet at once (--immediate-mode) and writes
// each as it comes (-U), so the file can be read while it grows and what
// was sent before Stop is in it: without immediate mode, packets wait in
// the kernel's ring until a block fills or a second passes, and an
// interrupted tcpdump loses them.
type Capture struct {
	Path string
	proc *Proc
}

// StartCapture starts tcpdump on iface with a capture filter and returns
// once it is listening, so traffic sent after it returns is captured.
func (h *Host) StartCapture(name, iface string, filter ...string) (*Capture, error) {
	path := filepath.Join(h.Dir, name+".pcap")
	args := append([]string{"-i", iface, "--immediate-mode", "-U", "-n", "-s", "0", "-w", path}, filter...)
	p, err := h.Start("tcpdump-"+name, "tcpdump", args...)
	if err != nil {
		return nil, err
	}
	c := &Capture{Path: path, proc: p}
	// tcpdump says "listening on" once the capture is active.
	err = Poll(10*time.Second, 20*time.Millisecond, func() error {
		if p.Exited() {
			return errors.New("tcpdump exited: " + p.Output())
		}
		if !strings.Contains(p.Output(), "listening on") {
			return errors.New("tcpdump is not listening yet")
		}
		return nil
	})
	if err != nil {
		p.Kill()
		return nil, fmt.Errorf("capture on %s: %w", h.Name, err)
	}
	return c, nil
}

// Frames returns the frames captured so far.
func (c *Capture) Frames() ([][]byte, error) {
	data, err := os.ReadFile(c.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // created with the first write
	}
	if err != nil {
		return nil, err
	}
	return ReadPcap(data)
}

// WaitFrames polls until at least n captured frames satisfy match.
func (c *Capture) WaitFrames(timeout time.Duration, n int, match func([]byte) bool) error {
	return Poll(timeout, 20*time.Millisecond, func() error {
		frames, err := c.Frames()
		if err != nil {
			return err
		}
		got := 0
		for _, f := range frames {
			if match(f) {
				got++
			}
		}
		if got < n {
			return fmt.Errorf("%d of %d frames captured (%d in all)", got, n, len(frames))
		}
		return nil
	})
}

// Stop ends tcpdump, which flushes its file, and returns the file's bytes.
func (c *Capture) Stop() ([]byte, error) {
	if err := c.proc.Signal(os.Interrupt); err != nil && !c.proc.Exited() {
		return nil, err
	}
	if err := c.proc.Wait(10 * time.Second); err != nil && !c.proc.Exited() {
		c.proc.Kill()
		return nil, err
	}
	return os.ReadFile(c.Path)
}

// UDPPort matches frames carrying UDP from or to port.
func UDPPort(port uint16) func([]byte) bool {
	return func(f []byte) bool {
		src, dst, _, ok := UDPPorts(f)
		return ok && (src == port || dst == port)
	}
}
