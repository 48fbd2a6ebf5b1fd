package encap

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestWireGuardDisableOffloadTurnsOffGRO(t *testing.T) {
	for _, tc := range []struct {
		noOffload bool
		want      int
	}{{false, 1}, {true, 0}} {
		n := newWGNode(t, func(c *WireGuardConfig) { c.DisableOffload = tc.noOffload })
		fds, err := udpSocketsOnPort(n.w.LocalPort())
		if err != nil || len(fds) != 2 {
			t.Fatalf("sockets on port %d: %v, %v; want 2 (IPv4 and IPv6)", n.w.LocalPort(), fds, err)
		}
		for _, fd := range fds {
			v, err := unix.GetsockoptInt(fd, unix.IPPROTO_UDP, unix.UDP_GRO)
			if err != nil {
				t.Skipf("kernel has no UDP_GRO socket option: %v", err)
			}
			if v != tc.want {
				t.Errorf("DisableOffload=%v: UDP_GRO = %d, want %d", tc.noOffload, v, tc.want)
			}
		}
	}
}
