// Package chaos holds meshnet's reliability suites, run against the real
// binary in network namespaces: the chaos run (faults injected one window
// at a time while traffic is accounted), the soak (long churn, resources
// sampled for leaks) and hostile input at the front door. Short versions run
// in every `go test`; `make chaos` and `make soak` run the full ones.
// docs/RELIABILITY.md explains each check and records a full run.
package chaos
