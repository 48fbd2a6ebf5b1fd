package node

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"meshnet.dev/meshnet/node/config"
)

func TestCPUProfileWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	n := &Node{spec: &config.Spec{Perf: config.PerfSpec{CPUProfile: path}}, log: slog.New(slog.DiscardHandler)}
	stop, err := n.startProfile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Fatalf("profile %s: %v (size %d)", path, err, fi.Size())
	}
}
