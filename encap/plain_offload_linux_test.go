package encap

import (
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

// TestPlainDisableOffloadSendsSingleDatagrams shows GSO is used by default
// (a receiver with GRO sees the batch as one coalesced datagram) and not
// with DisableOffload.
func TestPlainDisableOffloadSendsSingleDatagrams(t *testing.T) {
	const size, n = 1000, 3
	for _, noOffload := range []bool{false, true} {
		r := newGROReceiver(t, "udp4", "127.0.0.1:0")
		p := newTestPlain(t, PlainConfig{DisableOffload: noOffload})
		bufs := makeBatch(7, n)
		for i := range bufs {
			bufs[i] = bufs[i][:Headroom+size]
		}
		if err := p.Send(bufs, Headroom, r.addr); err != nil {
			t.Fatal(err)
		}
		got, gso := r.read(t)
		switch {
		case !noOffload && r.noGSO:
			t.Skip("kernel has no UDP segmentation offload")
		case !noOffload && (got != n*size || gso != size):
			t.Errorf("default transport: first read %d bytes, segment %d; want one %d-byte GSO datagram of %d-byte segments", got, gso, n*size, size)
		case noOffload && got != size:
			t.Errorf("DisableOffload: first read %d bytes, want a single %d-byte datagram", got, size)
		}
	}
}
