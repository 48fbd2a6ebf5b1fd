package encap

// The WireGuard configuration socket (UAPI), so that `wg show <name>`,
// wgctrl and other WireGuard tools see the embedded device.
//
// The socket is created with wireguard-go's ipc package in the directory
// WireGuard tools look in, mode 0700 (root only: it can read the private
// key). One goroutine accepts connections and one goroutine per
// connection serves it with the device's own handler; all are owned by the
// transport and end in close, which closes the listener and every open
// connection. The socket file is removed when the listener closes.

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"

	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/ipc"
)

const (
	// wgSocketDir is where wireguard-go creates configuration sockets and
	// where wireguard-tools look for userspace devices.
	wgSocketDir = "/var/run/wireguard"

	// maxUAPIConns bounds concurrent connections to the configuration
	// socket; more are closed at once.
	maxUAPIConns = 16

	// uapiListenerErrors is how many errors wireguard-go's UAPI listener
	// reports in its life: one from its accept goroutine and one from its
	// socket-file watcher, each of which then exits. Accepting until both
	// arrived leaves neither blocked on its error channel.
	uapiListenerErrors = 2
)

// wgUAPI serves a device's configuration socket.
type wgUAPI struct {
	log  *slog.Logger
	path string
	l    net.Listener
	wg   sync.WaitGroup

	mu      sync.Mutex // guards conns and closing
	conns   map[net.Conn]struct{}
	closing bool
}

// openUAPI creates the configuration socket for interface name. It fails if
// a live device already serves that name.
func openUAPI(name string, log *slog.Logger) (*wgUAPI, error) {
	path := filepath.Join(wgSocketDir, name+".sock")
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return nil, fmt.Errorf("interface name %q is taken: %s belongs to a running WireGuard device (another meshnet or a userspace WireGuard); stop it or choose another name", name, path)
	}
	f, err := ipc.UAPIOpen(name)
	if err != nil {
		return nil, fmt.Errorf("creating the configuration socket %s: %w (is %s writable? it needs root)", path, err, wgSocketDir)
	}
	l, err := ipc.UAPIListen(name, f)
	f.Close() // the listener holds its own descriptor
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("listening on the configuration socket %s: %w", path, err)
	}
	return &wgUAPI{log: log, path: path, l: l, conns: make(map[net.Conn]struct{})}, nil
}

// serve starts answering configuration requests for dev.
func (u *wgUAPI) serve(dev *device.Device) {
	u.wg.Add(1)
	go u.accept(dev)
}

func (u *wgUAPI) accept(dev *device.Device) {
	defer u.wg.Done()
	for errs := 0; errs < uapiListenerErrors; {
		c, err := u.l.Accept()
		if err != nil {
			errs++
			if errs == 1 && !u.isClosing() {
				u.log.Warn("configuration socket stopped accepting; WireGuard tools no longer see this device", "socket", u.path, "err", err)
			}
			continue
		}
		if !u.track(c) {
			c.Close()
			continue
		}
		u.wg.Add(1)
		go func() {
			defer u.wg.Done()
			dev.IpcHandle(c) // returns when c is closed or the client hangs up
			u.untrack(c)
		}()
	}
}

func (u *wgUAPI) isClosing() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.closing
}

// track registers a new connection; false means refuse it.
func (u *wgUAPI) track(c net.Conn) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closing {
		return false
	}
	if len(u.conns) >= maxUAPIConns {
		u.log.Warn("too many connections to the configuration socket; refusing one", "socket", u.path, "limit", maxUAPIConns)
		return false
	}
	u.conns[c] = struct{}{}
	return true
}

func (u *wgUAPI) untrack(c net.Conn) {
	u.mu.Lock()
	delete(u.conns, c)
	u.mu.Unlock()
}

// close stops accepting, ends every open connection and waits for the
// goroutines. Closing the listener removes the socket file.
func (u *wgUAPI) close() {
	u.mu.Lock()
	u.closing = true
	for c := range u.conns {
		c.Close()
	}
	u.mu.Unlock()
	// The listener also reports an error when its file watcher has
	// already stopped (the socket file was deleted by hand); nothing is
	// left to do about either.
	if err := u.l.Close(); err != nil {
		u.log.Debug("closing the configuration socket", "socket", u.path, "err", err)
	}
	u.wg.Wait()
}
