package encap

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.zx2c4.com/wireguard/device"
)

const (
	// wgLogBurst error messages from wireguard-go are logged per
	// wgLogWindow; the rest are counted and reported with the next one
	// logged. Its errors come from the data path (a peer without an
	// endpoint, a failing socket) and can repeat per packet.
	wgLogBurst  = 10
	wgLogWindow = 10 * time.Second
)

// newDeviceLogger routes wireguard-go's messages to log: its verbose ones
// at debug level (formatted only when debug is enabled), its errors as
// warnings, rate-limited. wireguard-go names peers by an abbreviated public
// key and never logs key material.
func newDeviceLogger(log *slog.Logger, now func() time.Time) *device.Logger {
	lim := &logLimiter{burst: wgLogBurst, window: wgLogWindow, now: now}
	return &device.Logger{
		Verbosef: func(format string, args ...any) {
			if log.Enabled(context.Background(), slog.LevelDebug) {
				log.Debug("wireguard-go", "event", fmt.Sprintf(format, args...))
			}
		},
		Errorf: func(format string, args ...any) {
			ok, suppressed := lim.allow()
			if !ok {
				return
			}
			if suppressed > 0 {
				log.Warn("wireguard-go error", "err", fmt.Sprintf(format, args...), "suppressed", suppressed)
				return
			}
			log.Warn("wireguard-go error", "err", fmt.Sprintf(format, args...))
		},
	}
}

// logLimiter allows burst events per window and counts the rest.
type logLimiter struct {
	burst  int
	window time.Duration
	now    func() time.Time

	mu         sync.Mutex
	start      time.Time // of the current window
	n          int       // events allowed in it
	suppressed uint64    // events refused since the last allowed one
}

// allow reports whether to log an event and how many were refused since
// the last one allowed.
func (l *logLimiter) allow() (bool, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t := l.now(); t.Sub(l.start) >= l.window {
		l.start, l.n = t, 0
	}
	if l.n >= l.burst {
		l.suppressed++
		return false, 0
	}
	l.n++
	s := l.suppressed
	l.suppressed = 0
	return true, s
}
