package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// stateLock is an exclusive lock on the state directory, so two daemons
// never share one identity, socket and state.
type stateLock struct{ f *os.File }

func lockStateDir(dir string) (*stateLock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating state directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, "meshnet.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		pid, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("another meshnet daemon (pid %s) is running with state directory %s; stop it with `meshnet down` or use another state_dir",
				strings.TrimSpace(string(pid)), dir)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return &stateLock{f}, nil
}

// release drops the lock; the file stays (its presence means nothing).
func (l *stateLock) release() {
	l.f.Truncate(0)
	l.f.Close()
}

// StateDirInUse reports whether a daemon holds dir's state lock. A daemon
// releases it last, after its devices, sockets and ports are gone, so a
// new daemon can start on dir once this reports false.
func StateDirInUse(dir string) (bool, error) {
	f, err := os.Open(filepath.Join(dir, "meshnet.lock"))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	defer f.Close()
	switch err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); {
	case err == nil:
		return false, nil // closing f drops the shared lock
	case errors.Is(err, unix.EWOULDBLOCK):
		return true, nil
	default:
		return false, err
	}
}
