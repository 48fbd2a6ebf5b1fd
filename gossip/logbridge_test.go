package gossip

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// Junk from the network makes memberlist log a line per packet: the bridge
// lets a few through per window, says how many it held back, and counts
// every rejected packet as a drop.
func TestLogBridgeLimitsAndCounts(t *testing.T) {
	var out bytes.Buffer
	now := time.Unix(1000, 0)
	var c counters
	b := newLogBridge(slog.New(slog.NewTextHandler(&out, nil)), &c, func() time.Time { return now })
	for i := range 100 {
		fmt.Fprintf(b, "[ERR] memberlist: Decrypt packet failed: no installed keys could decrypt the message from=192.0.2.%d:7946\n", i)
	}
	b.Write([]byte("[WARN] memberlist: Refuting a suspect message (from: host2)"))
	lines := strings.Count(out.String(), "\n")
	if lines != logBurst+1 {
		t.Fatalf("%d lines logged, want %d of the flood and 1 other:\n%s", lines, logBurst, out.String())
	}
	if got := c.drops[dropUndecryptable].Load(); got != 100 {
		t.Fatalf("undecryptable drops = %d, want 100", got)
	}
	out.Reset()
	now = now.Add(logWindow)
	b.Write([]byte("[ERR] memberlist: Decrypt packet failed: again"))
	if !strings.Contains(out.String(), "held back") || !strings.Contains(out.String(), fmt.Sprint(100-logBurst)) {
		t.Fatalf("the next window's line does not say what was held back: %q", out.String())
	}
}

func TestLogKindOf(t *testing.T) {
	for msg, want := range map[string]string{
		"Decrypt packet failed: x from=1.2.3.4:5":    "Decrypt packet failed",
		"Suspect host2 has failed, no acks received": "Suspect host",
		"Message type (9) not supported":             "Message type ",
	} {
		if got := logKindOf(msg); got != want {
			t.Errorf("logKindOf(%q) = %q, want %q", msg, got, want)
		}
	}
}
