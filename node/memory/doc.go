// Package memory keeps the daemon's memory in check while it runs: a soft
// limit for the Go runtime, so the garbage collector works harder before
// the heap grows past what the data path needs; the memory the data path's
// buffer pools held given back to the system once traffic has stopped for
// a while; and, for investigations, a heap profile written each time the
// heap reaches a new peak.
//
// Goroutines and locks: Start runs one goroutine, which owns all of the
// watcher's state; Stop ends it and waits. The traffic counter it reads
// must be safe to call from that goroutine.
package memory
