package tun

// Opening TUN/TAP queues. Everything here works on the raw descriptor so the
// descriptor is close-on-exec from the start (a child process must never keep
// a non-persistent device alive after meshnet dies) and so a failed setup
// closes it instead of leaking it.

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// openMode says whether an open may create the device.
type openMode int

const (
	createOrOpen openMode = iota // create the device unless it exists
	openExisting                 // fail if the device does not exist
)

// deviceOpts are the creation-time options shared by TAP and TUN.
type deviceOpts struct {
	persist      bool
	owner, group int // -1 leaves unset
}

// queue is one open, non-blocking, close-on-exec queue of a TUN/TAP device.
type queue struct {
	fd      int
	name    string
	created bool // this open created the device
}

// openQueue attaches to the device called name, creating it unless mode is
// openExisting. flags are the IFF_* mode flags for TUNSETIFF. On error
// nothing is left open and no device this call created remains.
func openQueue(name string, flags uint16, mode openMode, opts deviceOpts) (queue, error) {
	if len(name) >= unix.IFNAMSIZ {
		return queue{}, fmt.Errorf("tun: device name %q is longer than %d bytes; choose a shorter name", name, unix.IFNAMSIZ-1)
	}
	fd, err := unix.Open(CloneDevice, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return queue{}, explainClone(err)
	}
	q := queue{fd: fd}
	if err := q.attach(name, flags); err != nil {
		unix.Close(fd)
		return queue{}, err
	}
	if mode == openExisting && q.created {
		// Closing the only queue of a non-persistent device removes it.
		unix.Close(fd)
		return queue{}, fmt.Errorf("tun: no device %q to open; create it first with `meshnet device create %s`: %w", q.name, q.name, os.ErrNotExist)
	}
	if q.created {
		if err := q.setOwnership(opts); err != nil {
			unix.Close(fd)
			return queue{}, err
		}
	}
	return q, nil
}

// attach runs TUNSETIFF and learns the device's name and whether it is new.
func (q *queue) attach(name string, flags uint16) error {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return fmt.Errorf("tun: device name %q: %w", name, err)
	}
	ifr.SetUint16(flags)
	if err := unix.IoctlIfreq(q.fd, unix.TUNSETIFF, ifr); err != nil {
		return explainAttach(name, err)
	}
	q.name = ifr.Name()
	// An existing device we may attach to is persistent (a non-persistent
	// one already has its single queue, so TUNSETIFF would say EBUSY). So a
	// device without IFF_PERSIST is one this call created.
	got, _ := unix.NewIfreq("")
	if err := unix.IoctlIfreq(q.fd, unix.TUNGETIFF, got); err != nil {
		return fmt.Errorf("tun: read flags of %q: %w", q.name, err)
	}
	q.created = got.Uint16()&unix.IFF_PERSIST == 0
	return nil
}

// setOwnership applies owner, group and persistence to a device this open
// created. Persistence goes last so a failure leaves nothing behind.
func (q *queue) setOwnership(opts deviceOpts) error {
	if opts.owner >= 0 {
		if err := unix.IoctlSetInt(q.fd, unix.TUNSETOWNER, opts.owner); err != nil {
			return fmt.Errorf("tun: set owner of %q to uid %d: %w", q.name, opts.owner, err)
		}
	}
	if opts.group >= 0 {
		if err := unix.IoctlSetInt(q.fd, unix.TUNSETGROUP, opts.group); err != nil {
			return fmt.Errorf("tun: set group of %q to gid %d: %w", q.name, opts.group, err)
		}
	}
	if opts.persist {
		if err := q.setPersist(true); err != nil {
			return err
		}
	}
	return nil
}

func (q *queue) setPersist(on bool) error {
	v := 0
	if on {
		v = 1
	}
	if err := unix.IoctlSetInt(q.fd, unix.TUNSETPERSIST, v); err != nil {
		return fmt.Errorf("tun: set persistence of %q to %t: %w", q.name, on, err)
	}
	return nil
}

// abandon closes a queue whose setup failed after openQueue returned; a
// device this open created, persistent or not, goes away with it.
func (q *queue) abandon() {
	if q.created {
		_ = q.setPersist(false)
	}
	unix.Close(q.fd)
}

func explainClone(err error) error {
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENODEV):
		return fmt.Errorf("tun: %s is missing; load the tun module (modprobe tun) or, in a container, pass the device in (--device /dev/net/tun): %w", CloneDevice, err)
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return fmt.Errorf("tun: uid %d may not open %s (most systems make it mode 0666); as root, run `chmod 0666 %s`, or create this user's device with `meshnet device create NAME --user USER --fix-perms` (a container may need it passed in with --device /dev/net/tun): %w", os.Getuid(), CloneDevice, CloneDevice, err)
	}
	return fmt.Errorf("tun: open %s: %w", CloneDevice, err)
}

func explainAttach(name string, err error) error {
	switch {
	case errors.Is(err, unix.EBUSY):
		return fmt.Errorf("tun: device %q is in use by another process (is another `meshnet up` running?): %w", name, err)
	case errors.Is(err, unix.EPERM):
		return fmt.Errorf("tun: opening device %q needs CAP_NET_ADMIN (run as root or `setcap cap_net_admin+ep` the meshnet binary), or use a device created for this user with `meshnet device create %s --user USER`: %w", name, name, err)
	case errors.Is(err, unix.EINVAL):
		return fmt.Errorf("tun: device %q exists but is of another kind (TAP vs TUN, or multi-queue); delete it or choose another name: %w", name, err)
	}
	return fmt.Errorf("tun: open device %q: %w", name, err)
}
