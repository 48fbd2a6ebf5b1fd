// Package sim is meshnet's gossip scale simulator. It runs N real gossip
// nodes (gossip.DB, memberlist and all) in one process over the in-memory
// network gossip/memnet, inside a testing/synctest bubble, and measures
// what the control plane costs and how fast it works as N grows:
// convergence of a table write, failure detection and false positives
// under packet loss, bytes per node per second idle and under churn, the
// cost of joining a network that holds 10,000 entries, and topology-aware
// against random fanout.
//
// # What is real and what is virtual
//
// Everything above the transport is production code with production
// defaults: gossip.DefaultConfig (200 ms gossip interval, fanout 3, 30 s
// bulk sync, topology-aware fanout) and memberlist's DefaultLANConfig as
// gossip configures it (800 ms probes, suspicion multiplier, no push/pull
// timer), with a three-key AES-GCM gossip keyring and node metadata of a
// realistic size.
// Below it memnet delivers packets with a latency model of three regions
// (Regions), random loss, and crashes (a black hole, then DB.Shutdown).
//
// Time is virtual: the bubble's clock only moves when every goroutine is
// blocked, so a node's processing takes no time at all. Convergence and
// detection times are therefore protocol times (timers and link delays),
// not what a loaded CPU would add; wall time and peak RSS are reported
// beside them to show what simulating N nodes costs this machine.
//
// # Layout
//
// regions.go holds the latency model, linkmeter.go the per-region-pair
// byte counter, cluster.go and observer.go build a cluster and watch its
// events, measure_*.go run one measurement each, run.go sequences them for
// one N, and report.go and plot.go write the table and the figures. The
// runner is a Go test (scale_test.go): `go test ./sim` runs a quick check
// on small clusters with assertions; `make sim` runs the published scales.
package sim
