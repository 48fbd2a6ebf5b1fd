package node

import (
	"context"
	"fmt"

	"meshnet.dev/meshnet/node/memory"
)

// startMemory starts the memory watcher: it returns the data path's idle buffers to the system once
// traffic stops, and writes performance.heap_profile at new peaks. It runs
// after the forwarder starts, whose frame count tells traffic from quiet.
func (n *Node) startMemory(context.Context) (func(), error) {
	w, err := memory.Start(memory.Config{
		HeapProfile: n.spec.Perf.HeapProfile,
		Traffic:     n.fwd.Frames,
		Logger:      n.log,
	})
	if err != nil {
		return nil, fmt.Errorf("performance: %w", err)
	}
	return w.Stop, nil
}
