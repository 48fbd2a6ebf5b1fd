package encap

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// disableGRO turns UDP generic receive offload off on this process's UDP
// sockets bound to port. The bind switches GRO on while it creates its
// sockets and does not hand out their descriptors, so they are found by
// their bound port. In one network namespace only the bind's sockets can
// hold the port (it does not set SO_REUSEPORT); a process with sockets on
// the same port in other namespaces loses GRO on those too, which costs
// throughput but nothing else.
//
// The bind keeps reading the way it does with GRO on; without coalescing it
// simply sees one datagram per slot.
func disableGRO(port uint16) error {
	fds, err := udpSocketsOnPort(port)
	if err != nil {
		return err
	}
	if len(fds) == 0 {
		return fmt.Errorf("no UDP socket bound to port %d found in /proc/self/fd", port)
	}
	for _, fd := range fds {
		err := unix.SetsockoptInt(fd, unix.IPPROTO_UDP, unix.UDP_GRO, 0)
		if errors.Is(err, unix.ENOPROTOOPT) {
			return nil // a kernel without UDP GRO: nothing to turn off
		}
		if err != nil {
			return fmt.Errorf("setsockopt UDP_GRO=0 on fd %d: %w", fd, err)
		}
	}
	return nil
}

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
