package gossip

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Many of memberlist's log lines are about input from the network, which
// anyone who can reach the gossip port controls: junk would otherwise turn
// into a log line per packet. The bridge lets through a few lines of each
// kind per window, says how many it held back, and counts the input
// memberlist rejected as drops.
const (
	logBurst  = 5                // lines of one kind per window
	logWindow = 10 * time.Second // the window
	maxKinds  = 256              // kinds tracked; more and the table starts over
)

// logBridge turns memberlist's "[LEVEL] memberlist: msg" lines into slog
// records at the matching level, rate-limited per kind of message.
type logBridge struct {
	log   *slog.Logger
	stats *counters
	now   func() time.Time

	mu    sync.Mutex
	kinds map[string]*logKind
}

type logKind struct {
	start      time.Time // of the current window
	lines      int       // emitted in the window
	suppressed int       // held back since the last emitted line
}

func newLogBridge(log *slog.Logger, stats *counters, now func() time.Time) *logBridge {
	return &logBridge{log: log, stats: stats, now: now, kinds: map[string]*logKind{}}
}

// rejectReasons maps memberlist messages about input it refused to our
// drop reasons.
var rejectReasons = []struct {
	prefix string
	reason dropReason
}{
	{"Decrypt packet failed", dropUndecryptable},
	{"failed to receive", dropUndecryptable}, // a stream that does not decrypt or decode
	{"Failed to read remote state", dropUndecryptable},
	{"UDP packet too short", dropMalformed},
	{"Failed to decode", dropMalformed},
	{"Failed to decompress", dropMalformed},
	{"msg type", dropUnknownType},
	{"Message type", dropUnknownType},
	{"Received invalid msgType", dropUnknownType},
	{"missing message type byte", dropMalformed},
	{"Got invalid checksum", dropMalformed},
	{"discarding packet with unacceptable label", dropMalformed},
	{"discarding stream with unacceptable label", dropMalformed},
	{"failed to receive and remove the stream label header", dropMalformed},
}

func (b *logBridge) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	level := slog.LevelInfo
	for _, l := range []struct {
		prefix string
		level  slog.Level
	}{{"[DEBUG]", slog.LevelDebug}, {"[INFO]", slog.LevelInfo}, {"[WARN]", slog.LevelWarn}, {"[ERR]", slog.LevelError}, {"[ERROR]", slog.LevelError}} {
		if rest, ok := strings.CutPrefix(msg, l.prefix); ok {
			msg, level = strings.TrimSpace(rest), l.level
			break
		}
	}
	msg = strings.TrimPrefix(msg, "memberlist: ")
	if level >= slog.LevelWarn {
		for _, r := range rejectReasons {
			if strings.HasPrefix(msg, r.prefix) {
				b.stats.drop(r.reason, 1)
				break
			}
		}
	}
	if !b.log.Enabled(context.Background(), level) {
		return len(p), nil
	}
	suppressed, ok := b.admit(logKindOf(msg))
	if !ok {
		return len(p), nil
	}
	if suppressed > 0 {
		msg = fmt.Sprintf("%s (%d similar lines held back)", msg, suppressed)
	}
	b.log.Log(context.Background(), level, msg)
	return len(p), nil
}

// admit reports whether a line of kind may be logged now, and how many of
// its kind were held back before it.
func (b *logBridge) admit(kind string) (suppressed int, ok bool) {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	k := b.kinds[kind]
	if k == nil {
		if len(b.kinds) >= maxKinds {
			b.kinds = map[string]*logKind{}
		}
		k = &logKind{start: now}
		b.kinds[kind] = k
	}
	if now.Sub(k.start) >= logWindow {
		k.start, k.lines = now, 0
	}
	if k.lines >= logBurst {
		k.suppressed++
		return 0, false
	}
	k.lines++
	suppressed, k.suppressed = k.suppressed, 0
	return suppressed, true
}

// logKindOf names the kind of a memberlist message: its text up to the
// first detail (a colon, parenthesis, quote or digit), so lines that differ
// only in addresses, names or errors share a kind.
func logKindOf(msg string) string {
	if i := strings.IndexAny(msg, ":('\"0123456789"); i >= 0 {
		msg = msg[:i]
	}
	return msg[:min(len(msg), 64)]
}
