package tun

// Interface MTU and MAC through ioctls on a throwaway socket. They act in the
// network namespace of the calling thread, the same one the device was
// created in, and reading needs no privilege (setting needs CAP_NET_ADMIN).

import (
	"errors"
	"fmt"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"

	"meshnet.dev/meshnet/internal/packet"
)

// ifreqHW is struct ifreq with ifr_hwaddr (a struct sockaddr) in the union.
type ifreqHW struct {
	name   [unix.IFNAMSIZ]byte
	family uint16
	data   [14]byte
	_      [8]byte // pad the union to its 24 bytes
}

func withIfSocket(fn func(fd int) error) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("tun: socket for interface ioctls: %w", err)
	}
	defer unix.Close(fd)
	return fn(fd)
}

func linkMTU(name string) (int, error) {
	var mtu int
	err := withIfSocket(func(fd int) error {
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			return err
		}
		if err := unix.IoctlIfreq(fd, unix.SIOCGIFMTU, ifr); err != nil {
			return err
		}
		mtu = int(int32(ifr.Uint32()))
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("tun: read MTU of %q: %w", name, err)
	}
	return mtu, nil
}

func setLinkMTU(name string, mtu int) error {
	err := withIfSocket(func(fd int) error {
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			return err
		}
		ifr.SetUint32(uint32(mtu))
		return unix.IoctlIfreq(fd, unix.SIOCSIFMTU, ifr)
	})
	if err != nil {
		return fmt.Errorf("tun: set MTU of %q to %d: %w", name, mtu, err)
	}
	return nil
}

func hwIoctl(fd int, req uint, r *ifreqHW) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(unsafe.Pointer(r)))
	if errno != 0 {
		return errno
	}
	return nil
}

func linkMAC(name string) (packet.MAC, error) {
	var mac packet.MAC
	err := withIfSocket(func(fd int) error {
		var r ifreqHW
		copy(r.name[:unix.IFNAMSIZ-1], name)
		if err := hwIoctl(fd, unix.SIOCGIFHWADDR, &r); err != nil {
			return err
		}
		copy(mac[:], r.data[:6])
		return nil
	})
	if err != nil {
		return packet.MAC{}, fmt.Errorf("tun: read MAC of %q: %w", name, err)
	}
	return mac, nil
}

func setLinkMAC(name string, mac packet.MAC) error {
	err := withIfSocket(func(fd int) error {
		r := ifreqHW{family: unix.ARPHRD_ETHER}
		copy(r.name[:unix.IFNAMSIZ-1], name)
		copy(r.data[:], mac[:])
		return hwIoctl(fd, unix.SIOCSIFHWADDR, &r)
	})
	if err != nil {
		return fmt.Errorf("tun: set MAC of %q to %s: %w", name, formatMAC(mac), err)
	}
	return nil
}

func formatMAC(m packet.MAC) string { return net.HardwareAddr(m[:]).String() }

// applyMTU gives the device want as its MTU unless want is 0 or already in
// place (so an unprivileged open of a prepared device works) and returns the
// MTU in effect.
func applyMTU(name string, want int) (int, error) {
	cur, err := linkMTU(name)
	if err != nil {
		return 0, err
	}
	if want == 0 || want == cur {
		return cur, nil
	}
	if err := setLinkMTU(name, want); err != nil {
		if errors.Is(err, unix.EPERM) {
			return 0, fmt.Errorf("tun: device %q has MTU %d and changing it to %d needs CAP_NET_ADMIN; set the MTU when creating the device, or configure MTU 0 to keep it: %w", name, cur, want, err)
		}
		return 0, err
	}
	return want, nil
}

// applyMAC is applyMTU for the hardware address; the zero MAC keeps the
// current one.
func applyMAC(name string, want packet.MAC) (packet.MAC, error) {
	cur, err := linkMAC(name)
	if err != nil {
		return packet.MAC{}, err
	}
	if want == (packet.MAC{}) || want == cur {
		return cur, nil
	}
	if err := setLinkMAC(name, want); err != nil {
		if errors.Is(err, unix.EPERM) {
			return packet.MAC{}, fmt.Errorf("tun: device %q has MAC %s and changing it to %s needs CAP_NET_ADMIN; set the MAC when creating the device, or configure none to keep it: %w", name, formatMAC(cur), formatMAC(want), err)
		}
		return packet.MAC{}, err
	}
	return linkMAC(name)
}
