// Package userspace is what a node in netstack mode offers the programs on
// its host. Such a node has no kernel interface in the overlay: its overlay
// addresses live in a userspace TCP/IP stack inside the daemon. Programs
// reach the overlay through it, and the overlay reaches them, only by these
// relays on the host's loopback:
//
//   - a SOCKS5 proxy (RFC 1928: no authentication, CONNECT only);
//   - an HTTP CONNECT proxy;
//   - forwards (tcp|udp:LOCALPORT:NAME_OR_IP:PORT): a loopback port relayed
//     to one overlay destination;
//   - exposes (tcp|udp:PORT or tcp|udp:OVERLAYPORT:LOCALPORT): an overlay
//     port relayed to a loopback port.
//
// Everything here works through four small interfaces, so it is tested
// without meshnet: a Dialer and a Listener for the overlay side (Netstack
// adapts the userspace stack), a Resolver for overlay names, and a Policy
// that admits only overlay addresses (Subnets). Names are resolved by the
// Resolver only and every destination must pass the Policy before anything
// is dialled: the proxies never become a way onto the host's own network.
//
// Server starts everything from a Config, owns every goroutine it starts,
// and Close stops them all: listeners are closed and relays cut.
//
// Goroutines and locks: every listener and every relayed connection has a
// goroutine of its own, tracked by the Server's group (its mu guards the
// set) so Close can end them all; the UDP relay's sessions are guarded by
// its mu.
//
// The package is named for the mode (unprivileged, userspace networking)
// rather than for one of the relays, since it holds all of them.
package userspace
