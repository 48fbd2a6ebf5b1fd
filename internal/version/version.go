// Package version names the meshnet release this binary was built from.
package version

// Version is overridden at build time with
// -ldflags "-X meshnet.dev/meshnet/internal/version.Version=...".
var Version = "0.1.0-dev"
