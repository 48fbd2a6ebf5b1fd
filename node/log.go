package node

import (
	"io"
	"log/slog"
)

// NewLogger returns the daemon's logger: key/value records at level, as
// text or JSON.
func NewLogger(w io.Writer, level slog.Leveler, json bool) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if json {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
