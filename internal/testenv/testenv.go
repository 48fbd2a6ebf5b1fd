// Package testenv lets tests that need privileges or host tools say so: they
// skip with a reason on a developer machine and fail in CI (CI=true), where
// the environment is required to provide them. It also tells allocation
// tests whether their counts mean anything (not under the race detector).
// It imports no other meshnet package.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under CI, where nothing may be skipped.
func InCI() bool { return os.Getenv("CI") == "true" }

// Unavailable skips the test with reason, or fails it under CI.
func Unavailable(t testing.TB, reason string) {
	t.Helper()
	if InCI() {
		t.Fatalf("required in CI but unavailable: %s", reason)
	}
	t.Skip(reason)
}

// RequireRoot skips (or fails in CI) unless the test runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "needs root (network namespaces, TAP/TUN); run as root or with CI=true")
	}
}

// RequireTools skips (or fails in CI) unless every named program is on PATH.
func RequireTools(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			Unavailable(t, "needs "+n+" on PATH (make deps installs it)")
		}
	}
}

// SkipAllocsUnderRace skips an allocation test under the race detector,
// where allocation counts mean nothing: it makes sync.Pool drop items at
// random, and instrumentation allocates of its own. Every test that
// counts allocations calls it first, so all of them run, or skip, alike.
func SkipAllocsUnderRace(t testing.TB) {
	t.Helper()
	if RaceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
}
