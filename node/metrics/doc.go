// Package metrics exports a node's counters to Prometheus: a collector
// that reads them at scrape time through the Source interface, so the data
// path does nothing for metrics but bump the atomics it already has, and
// the HTTP server for /metrics (Serve, Stop).
//
// The server's goroutines are its only ones, stopped by Stop; it holds no
// state between scrapes. It imports node/api and no other package under
// node/; the node implements Source and imports it.
package metrics
