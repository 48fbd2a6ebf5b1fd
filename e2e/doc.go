// Package e2e holds meshnet's end-to-end tests: real meshnet processes in
// network namespaces joined by a bridge, exchanging real traffic. They need
// root; outside CI they skip with a reason, under CI=true they must run.
package e2e
