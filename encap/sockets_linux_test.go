package encap

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// udpSocketsOnPort lists the descriptors of this process's UDP sockets bound
// to port.
func udpSocketsOnPort(port uint16) ([]int, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, fmt.Errorf("listing open sockets: %w", err)
	}
	var fds []int
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if proto, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL); err != nil || proto != unix.IPPROTO_UDP {
			continue
		}
		sa, err := unix.Getsockname(fd)
		if err != nil {
			continue
		}
		var bound int
		switch sa := sa.(type) {
		case *unix.SockaddrInet4:
			bound = sa.Port
		case *unix.SockaddrInet6:
			bound = sa.Port
		default:
			continue
		}
		if bound == int(port) {
			fds = append(fds, fd)
		}
	}
	return fds, nil
}
