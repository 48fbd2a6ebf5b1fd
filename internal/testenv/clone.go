package testenv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Tests that run meshnet as an unprivileged user need /dev/net/tun open to
// users, which a bare machine may not be. They change the mode the way a
// user is told to (`meshnet device create --fix-perms`) and HoldCloneMode
// puts it back afterwards. Test packages run in parallel processes, so the
// mode found before the first holder is kept in a file and restored only
// when the last holder, in any process, is done: each holder keeps a shared
// flock on cloneUsePath, and holding and releasing are serialised by an
// exclusive flock on cloneLockPath.
const (
	cloneDevice    = "/dev/net/tun"
	cloneLockPath  = "/run/meshnet-test-clone.lock"
	cloneUsePath   = "/run/meshnet-test-clone.use"
	cloneSavedPath = "/run/meshnet-test-clone.mode"
)

// HoldCloneMode records /dev/net/tun's mode and restores it when the test
// and every other test holding it have finished. The caller then changes
// the mode as a user would.
func HoldCloneMode(t testing.TB) {
	t.Helper()
	RequireRoot(t)
	unlock, err := flockPath(cloneLockPath, syscall.LOCK_EX)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	use, err := os.OpenFile(cloneUsePath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(use.Fd()), syscall.LOCK_SH); err != nil {
		use.Close()
		t.Fatal(err)
	}
	if _, err := os.Stat(cloneSavedPath); errors.Is(err, fs.ErrNotExist) {
		fi, err := os.Stat(cloneDevice)
		if err != nil {
			use.Close()
			t.Fatal(err)
		}
		if err := os.WriteFile(cloneSavedPath, []byte(fmt.Sprintf("%o\n", fi.Mode().Perm())), 0o600); err != nil {
			use.Close()
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if err := releaseClone(use); err != nil {
			t.Error(err)
		}
	})
}

// releaseClone drops one hold and restores the saved mode if it was the
// last.
func releaseClone(use *os.File) error {
	defer use.Close()
	unlock, err := flockPath(cloneLockPath, syscall.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	if err := syscall.Flock(int(use.Fd()), syscall.LOCK_UN); err != nil {
		return err
	}
	if syscall.Flock(int(use.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return nil // another holder is still running
	}
	data, err := os.ReadFile(cloneSavedPath)
	if err != nil {
		return fmt.Errorf("testenv: the saved mode of %s: %w", cloneDevice, err)
	}
	mode, err := strconv.ParseUint(strings.TrimSpace(string(data)), 8, 32)
	if err != nil {
		return fmt.Errorf("testenv: %s holds %q, not a mode", cloneSavedPath, data)
	}
	if err := os.Chmod(cloneDevice, fs.FileMode(mode)); err != nil {
		return fmt.Errorf("testenv: restore the mode of %s: %w", cloneDevice, err)
	}
	return os.Remove(cloneSavedPath)
}

// flockPath takes a flock on path and returns its release.
func flockPath(path string, how int) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("testenv: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, fmt.Errorf("testenv: lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
