package encap

import (
	"testing"

	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/conn"
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

// spareBind records how much spare capacity each sent buffer has.
type spareBind struct {
	conn.Bind
	spare []int
}

func (b *spareBind) Send(bufs [][]byte, _ conn.Endpoint) error {
	for _, p := range bufs {
		b.spare = append(b.spare, cap(p)-len(p))
	}
	return nil
}

// TestNoGSOBind: with no spare capacity the standard bind has nothing to
// coalesce into, so every packet is its own datagram.
func TestNoGSOBind(t *testing.T) {
	rec := &spareBind{}
	bufs := [][]byte{make([]byte, 100, 1000), make([]byte, 100, 1000)}
	if err := (noGSOBind{rec}).Send(bufs, nil); err != nil {
		t.Fatal(err)
	}
	for i, s := range rec.spare {
		if s != 0 || len(bufs[i]) != 100 {
			t.Errorf("buffer %d reached the bind with %d bytes and %d spare, want 100 and 0", i, len(bufs[i]), s)
		}
	}
}
