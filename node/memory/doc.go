// Package memory keeps the daemon's memory in check while it runs: the
// memory the data path's buffer pools held is given back to the system
// once traffic has stopped for a while, and again each time the quiet
// node's garbage has grown by a little (quietGrowth), rather than letting
// it fill the collector's goal; and, for investigations, a heap profile is
// written each time the heap reaches a new peak.
//
// A soft memory limit (GOMEMLIMIT) is deliberately not set by default: the
// embedded WireGuard allocates 64 KiB buffers of which a packet touches
// only its first pages, so the heap the runtime counts is several times
// the memory resident, and a limit near the resident figure made the
// collector run without pause (encrypted throughput fell fifteenfold in
// the benchmark).
//
// Goroutines and locks: Start runs one goroutine, which owns all of the
// watcher's state; Stop ends it and waits. The traffic counter it reads
// must be safe to call from that goroutine.
package memory
