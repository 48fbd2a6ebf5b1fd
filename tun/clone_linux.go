package tun

// Who may open the clone device. Opening /dev/net/tun is harmless in
// itself: creating a device, or attaching to one that belongs to someone
// else, still needs CAP_NET_ADMIN. But a user running meshnet on a device
// prepared for them (CreatePersistent) must be able to open the node, and
// containers, minimal images and some hosts leave it 0600 where Debian's and
// Fedora's udev rules make it 0666.

import (
	"fmt"
	"io/fs"
	"os"
	"slices"
	"syscall"
)

// CloneDevice is the path of the TUN/TAP clone device.
const CloneDevice = "/dev/net/tun"

// CloneModeForUsers is the mode that lets users open devices made for them.
const CloneModeForUsers fs.FileMode = 0o666

// CloneAccess is the clone device's owner and permission bits.
type CloneAccess struct {
	Perm     fs.FileMode
	UID, GID int
}

// StatClone reads the clone device's owner and permissions.
func StatClone() (CloneAccess, error) {
	fi, err := os.Stat(CloneDevice)
	if err != nil {
		return CloneAccess{}, explainClone(err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return CloneAccess{}, fmt.Errorf("tun: cannot read the owner of %s", CloneDevice)
	}
	return CloneAccess{Perm: fi.Mode().Perm(), UID: int(st.Uid), GID: int(st.Gid)}, nil
}

// Allows reports whether a process running as uid, with gids as its
// primary and supplementary groups, may open the device read-write.
func (a CloneAccess) Allows(uid int, gids ...int) bool {
	const rw = 0o6
	switch {
	case uid == 0:
		return true
	case uid == a.UID:
		return a.Perm>>6&rw == rw
	case slices.Contains(gids, a.GID):
		return a.Perm>>3&rw == rw
	}
	return a.Perm&rw == rw
}

// CheckCloneFor returns nil if uid (with groups gids) may open the clone
// device, and otherwise an error that says how to allow it.
func CheckCloneFor(user string, uid int, gids ...int) error {
	a, err := StatClone()
	if err != nil {
		return err
	}
	if a.Allows(uid, gids...) {
		return nil
	}
	return fmt.Errorf("tun: %s is mode %04o, so %s (uid %d) could not use a device made for it; "+
		"run again with --fix-perms to make it %04o as most distributions ship it (creating or taking over devices still needs CAP_NET_ADMIN), "+
		"or run `chmod %o %s` yourself; `make install` adds a udev rule that keeps it so after a reboot",
		CloneDevice, a.Perm, user, uid, CloneModeForUsers, CloneModeForUsers, CloneDevice)
}

// OpenCloneToUsers makes the clone device mode 0666. It reports whether
// the mode changed.
func OpenCloneToUsers() (bool, error) {
	a, err := StatClone()
	if err != nil {
		return false, err
	}
	if a.Perm == CloneModeForUsers {
		return false, nil
	}
	if err := os.Chmod(CloneDevice, CloneModeForUsers); err != nil {
		return false, fmt.Errorf("tun: make %s mode %04o: %w", CloneDevice, CloneModeForUsers, err)
	}
	return true, nil
}
