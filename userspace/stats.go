package userspace

import (
	"log/slog"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Warnings about untrusted traffic (a local client asking for forbidden or
// unknown destinations, say) are rate-limited to this many per second, with
// this burst; the rest are counted and reported with the next one.
const (
	warnsPerSecond = 1
	warnBurst      = 10
)

// Stats counts what the Server did since it started.
type Stats struct {
	// Accepted counts TCP connections and UDP sessions taken on.
	Accepted uint64
	// OverLimit counts connections and datagrams turned away because
	// MaxConns or MaxUDPSessions was reached.
	OverLimit uint64
	// NotAllowed counts requests for destinations outside the overlay.
	NotAllowed uint64
	// UnknownHost counts names the Resolver did not know.
	UnknownHost uint64
	// DialFailed counts destinations that could not be reached.
	DialFailed uint64
	// BadRequest counts malformed or unsupported proxy requests and
	// handshakes that timed out.
	BadRequest uint64
	// BytesOut and BytesIn count relayed TCP payload from the side that
	// connected and towards it.
	BytesOut, BytesIn uint64
	// UDPSessions is how many UDP sessions are open now.
	UDPSessions int64
}

// counters is the live, atomic form of Stats.
type counters struct {
	Accepted, OverLimit, NotAllowed, UnknownHost, DialFailed, BadRequest atomic.Uint64
	BytesOut, BytesIn                                                    atomic.Uint64
	UDPSessions                                                          atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Accepted:    c.Accepted.Load(),
		OverLimit:   c.OverLimit.Load(),
		NotAllowed:  c.NotAllowed.Load(),
		UnknownHost: c.UnknownHost.Load(),
		DialFailed:  c.DialFailed.Load(),
		BadRequest:  c.BadRequest.Load(),
		BytesOut:    c.BytesOut.Load(),
		BytesIn:     c.BytesIn.Load(),
		UDPSessions: c.UDPSessions.Load(),
	}
}

// warner logs warnings caused by untrusted traffic, rate-limited.
type warner struct {
	log        *slog.Logger
	lim        *rate.Limiter
	suppressed atomic.Uint64
}

func newWarner(log *slog.Logger) *warner {
	return &warner{log: log, lim: rate.NewLimiter(rate.Every(time.Second/warnsPerSecond), warnBurst)}
}

func (w *warner) warn(msg string, args ...any) {
	if !w.lim.Allow() {
		w.suppressed.Add(1)
		return
	}
	if n := w.suppressed.Swap(0); n > 0 {
		args = append(args, "suppressed", n)
	}
	w.log.Warn(msg, args...)
}
