//go:build !race

package testenv

// RaceEnabled reports whether the tests run under the race detector.
const RaceEnabled = false
