package netlab

import (
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Labs of different processes share what namespaces do not separate: the
// WireGuard control sockets in /run/wireguard are named after the node
// (wg-h1.sock), so two test packages running at once would take each
// other's. A lock file serialises labs across processes; labs of one
// process share its hold, so a test never waits for itself.

const lockPath = "/run/meshnet-netlab.lock"

var procLock struct {
	sync.Mutex
	f    *os.File
	labs int
}

// acquireLock takes the machine-wide lab lock for this process, waiting
// for labs of other processes to close, and says so on log while it waits.
func acquireLock(log func(string)) error {
	procLock.Lock()
	defer procLock.Unlock()
	if procLock.labs > 0 {
		procLock.labs++
		return nil
	}
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("netlab: lab lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err == unix.EWOULDBLOCK {
		log("waiting for another process's lab to close (" + lockPath + ")")
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != nil {
			f.Close()
			return fmt.Errorf("netlab: lab lock: %w", err)
		}
	} else if err != nil {
		f.Close()
		return fmt.Errorf("netlab: lab lock: %w", err)
	}
	procLock.f, procLock.labs = f, 1
	return nil
}

// releaseLock drops this process's hold once its last lab has closed.
func releaseLock() {
	procLock.Lock()
	defer procLock.Unlock()
	if procLock.labs == 0 {
		return
	}
	procLock.labs--
	if procLock.labs == 0 {
		procLock.f.Close() // closing releases the flock
		procLock.f = nil
	}
}
