package node

import (
	"log/slog"
	"os"
	"testing"
)

// testLogger sends the node's logs to the test log.
func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("MESHNET_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}
