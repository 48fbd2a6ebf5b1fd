package encap

import (
	"bytes"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// groState reports UDP_GRO on each of the transport's sockets.
func groState(t *testing.T, p *Plain) []int {
	t.Helper()
	fds, err := udpSocketsOnPort(p.LocalPort())
	if err != nil {
		t.Fatal(err)
	}
	if len(fds) != 2 {
		t.Fatalf("found %d sockets on port %d, want 2 (IPv4 and IPv6)", len(fds), p.LocalPort())
	}
	var states []int
	for _, fd := range fds {
		v, err := unix.GetsockoptInt(fd, unix.IPPROTO_UDP, unix.UDP_GRO)
		if err != nil {
			t.Skipf("kernel has no UDP_GRO socket option: %v", err)
		}
		states = append(states, v)
	}
	return states
}

func TestPlainDisableOffloadTurnsOffGRO(t *testing.T) {
	on := newTestPlain(t, PlainConfig{})
	off := newTestPlain(t, PlainConfig{DisableOffload: true})
	for _, v := range groState(t, on) {
		if v != 1 {
			t.Errorf("UDP_GRO = %d on a default transport, want 1 (offload on by default)", v)
		}
	}
	for _, v := range groState(t, off) {
		if v != 0 {
			t.Errorf("UDP_GRO = %d with DisableOffload, want 0", v)
		}
	}
}

// TestPlainDisableOffloadLeavesSpareCapacity shows GSO is used by default
// (the bind coalesces equal-sized packets into the first packet's spare
// capacity) and not with DisableOffload, where bytes past each packet stay
// untouched.
func TestPlainDisableOffloadLeavesSpareCapacity(t *testing.T) {
	sink := newTestPlain(t, PlainConfig{})
	dst := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), sink.LocalPort())
	const size = 1000
	send := func(p *Plain) []byte {
		bufs := make([][]byte, 3)
		for i := range bufs {
			b := make([]byte, Headroom+size, MaxPacket)
			fillPacket(b[Headroom:], 9, i)
			bufs[i] = b
		}
		if err := p.Send(bufs, Headroom, dst); err != nil {
			t.Fatal(err)
		}
		// What the send left after the first packet.
		return bufs[0][Headroom+size : Headroom+2*size]
	}
	second := make([]byte, size)
	fillPacket(second, 9, 1)

	on := newTestPlain(t, PlainConfig{})
	if fds, _ := udpSocketsOnPort(on.LocalPort()); len(fds) > 0 {
		if _, err := unix.GetsockoptInt(fds[0], unix.IPPROTO_UDP, unix.UDP_SEGMENT); err != nil {
			t.Skipf("kernel has no UDP segmentation offload: %v", err)
		}
	}
	if got := send(on); !bytes.Equal(got, second) {
		t.Error("default transport did not coalesce the batch with GSO")
	}
	off := newTestPlain(t, PlainConfig{DisableOffload: true})
	if got := send(off); !bytes.Equal(got, make([]byte, size)) {
		t.Error("DisableOffload transport wrote into the spare capacity after a packet")
	}
}
