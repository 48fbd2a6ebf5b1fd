package encap

import (
	"context"
	"encoding/base64"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLogLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := &logLimiter{burst: 3, window: 10 * time.Second, now: func() time.Time { return now }}
	for i := range 3 {
		if ok, s := l.allow(); !ok || s != 0 {
			t.Fatalf("event %d: allow = %v, %d; want true, 0", i, ok, s)
		}
	}
	for range 5 {
		if ok, _ := l.allow(); ok {
			t.Fatal("allowed more than the burst in one window")
		}
	}
	now = now.Add(10 * time.Second)
	if ok, s := l.allow(); !ok || s != 5 {
		t.Fatalf("first event of the next window: allow = %v, %d; want true and 5 suppressed", ok, s)
	}
}

// stringCounter counts how often it is formatted.
type stringCounter struct{ n *int }

func (s stringCounter) String() string { *s.n++; return "x" }

func TestDeviceLogger(t *testing.T) {
	capture := &logCapture{}
	infoOnly := slog.New(levelFilter{capture, slog.LevelInfo})
	now := time.Unix(1000, 0)
	dl := newDeviceLogger(infoOnly, func() time.Time { return now })
	formatted := 0
	dl.Verbosef("peer %v - details", stringCounter{&formatted})
	if formatted != 0 || capture.text() != "" {
		t.Errorf("a debug message was formatted (%d times) or logged at info level: %q", formatted, capture.text())
	}
	for range wgLogBurst + 4 {
		dl.Errorf("failed to send: %v", "no endpoint")
	}
	if got := capture.count("wireguard-go error"); got != wgLogBurst {
		t.Errorf("%d errors logged in one window, want %d", got, wgLogBurst)
	}
	now = now.Add(wgLogWindow)
	dl.Errorf("failed again")
	if !strings.Contains(capture.text(), "suppressed=4") {
		t.Errorf("the next window's first error does not report 4 suppressed:\n%s", capture.text())
	}
}

// levelFilter passes records at or above min to h.
type levelFilter struct {
	*logCapture
	min slog.Level
}

func (f levelFilter) Enabled(_ context.Context, l slog.Level) bool { return l >= f.min }

// TestWireGuardLogsNoSecrets runs the configuration paths with debug
// logging and looks for the keys in everything logged.
func TestWireGuardLogsNoSecrets(t *testing.T) {
	a, b := newWGNode(t, nil), newWGNode(t, nil)
	psk := newTestKey(t)
	a.setPeers(b.peer(psk))
	b.setPeers(a.peer(psk))
	sendAndCheck(t, a, b, 1, 2)
	newKey := newTestKey(t)
	if err := a.w.SetPrivateKey(newKey, a.vtep); err != nil {
		t.Fatal(err)
	}
	if _, err := a.w.PeerStats(); err != nil {
		t.Fatal(err)
	}
	logs := a.logs.text() + b.logs.text()
	if !strings.Contains(logs, "UAPI:") {
		t.Fatal("nothing was logged at debug level; the test would prove nothing")
	}
	for name, k := range map[string]testKey{"a's key": a.key, "b's key": b.key, "the PSK": psk, "a's new key": newKey} {
		for _, form := range []string{k.UAPIHex(), base64.StdEncoding.EncodeToString(k[:])} {
			if strings.Contains(logs, form) {
				t.Errorf("%s appears in the log", name)
			}
		}
	}
}
