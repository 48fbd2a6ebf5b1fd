package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"meshnet.dev/meshnet/node/api"
)

// controlIdleTimeout bounds how long the control API keeps an idle
// keep-alive connection.
const controlIdleTimeout = 30 * time.Second

// Serve serves the control API for n on the unix socket api.SocketName
// in stateDir and returns a function that stops it and removes the
// socket. The caller must hold the state directory's lock: a socket file
// found there is from a daemon that died without cleaning up.
func Serve(stateDir string, n Node, log *slog.Logger) (stop func(), err error) {
	path := filepath.Join(stateDir, api.SocketName)
	// The state lock is held, so a socket file left here is from a daemon
	// that died without cleaning up.
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("removing stale control socket %s: %w", path, err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	mux := http.NewServeMux()
	routes(mux, n)
	// Idle connections are closed: clients that keep them alive and
	// forget them would otherwise hold descriptors for the daemon's life.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: controlIdleTimeout}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("control API stopped", "err", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
		os.Remove(path)
	}, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
