package tun

// Persistent, user-owned devices: root (or a holder of CAP_NET_ADMIN)
// prepares a device once with `meshnet device create NAME --user U`, and U
// then runs meshnet without any capability, opening it with OpenTAP/OpenTUN.

import (
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// Device kinds for CreatePersistent.
const (
	ModeTAP = "tap"
	ModeTUN = "tun"
)

func modeFlags(mode string) (uint16, error) {
	switch mode {
	case ModeTAP:
		return unix.IFF_TAP | unix.IFF_NO_PI, nil
	case ModeTUN:
		// The opener picks its own features (offloads); the kind is what
		// must match.
		return unix.IFF_TUN | unix.IFF_NO_PI, nil
	}
	return 0, fmt.Errorf("tun: device mode %q is unknown; use %q or %q", mode, ModeTAP, ModeTUN)
}

// CreatePersistent creates a persistent TAP or TUN device (mode ModeTAP or
// ModeTUN) that outlives this process, owned by uid and gid (-1 leaves either
// unset; both unset lets anyone open it). The owner, or a member of the
// group, can then open it without CAP_NET_ADMIN. Creating needs
// CAP_NET_ADMIN. It fails if an interface of that name exists already.
// Address, MTU, MAC and link state are not set here: configure them through a
// LinkManager while still privileged.
func CreatePersistent(name, mode string, uid, gid int) error {
	flags, err := modeFlags(mode)
	if err != nil {
		return err
	}
	if name == "" {
		return errors.New("tun: a persistent device needs a name")
	}
	if _, err := net.InterfaceByName(name); err == nil {
		return fmt.Errorf("tun: an interface named %q exists already; delete it first (meshnet device delete %s) or choose another name: %w", name, name, os.ErrExist)
	}
	q, err := openQueue(name, flags, createOrOpen, deviceOpts{persist: true, owner: uid, group: gid})
	if err != nil {
		return err
	}
	defer unix.Close(q.fd)
	if !q.created {
		return fmt.Errorf("tun: persistent device %q appeared while being created; check who else manages it: %w", name, os.ErrExist)
	}
	return nil
}

// DeletePersistent removes a persistent TAP or TUN device. It fails with the
// reason if the device is missing or in use (close the meshnet using it
// first). The device's owner may delete it without CAP_NET_ADMIN.
func DeletePersistent(name string) error {
	if name == "" {
		return errors.New("tun: which device? DeletePersistent needs a name")
	}
	if _, err := net.InterfaceByName(name); err != nil {
		return fmt.Errorf("tun: no device %q to delete: %w", name, os.ErrNotExist)
	}
	// The kind must match to attach; try TAP, then TUN.
	q, err := openQueue(name, unix.IFF_TAP|unix.IFF_NO_PI, openExisting, deviceOpts{})
	if errors.Is(err, unix.EINVAL) {
		q, err = openQueue(name, unix.IFF_TUN|unix.IFF_NO_PI, openExisting, deviceOpts{})
	}
	if err != nil {
		return fmt.Errorf("tun: delete %q: %w", name, err)
	}
	defer unix.Close(q.fd)
	// Without persistence the device goes when its last queue (ours) closes.
	return q.setPersist(false)
}
