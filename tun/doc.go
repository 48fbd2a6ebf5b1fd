// Package tun is meshnet's device edge: it moves Ethernet frames between the
// kernel (or a userspace stack) and the data path in batches.
//
// Every Device carries Ethernet frames, whatever it is underneath: a TAP
// device is L2 natively; a TUN device is L3 and adds or strips an Ethernet
// header using a neighbour lookup; the Channel device is a working in-memory
// device for tests. Reads land at a caller-chosen offset so the caller can
// prepend its own headers in place.
//
// Kernel devices are non-persistent by default, so they vanish with the
// process however it dies. Creating one needs CAP_NET_ADMIN. An unprivileged
// meshnet instead opens a persistent device that root prepared for its user
// with CreatePersistent (`meshnet device create NAME --user U`), through
// OpenTAP or OpenTUN, keeping the device's MTU and MAC.
//
// Address, MTU and link state go through the LinkManager interface, backed by
// netlink in production and by FakeLinks in tests.
//
// tun owns the device side of the data path: the Device interface, the
// kernel queues, framing for L3 devices and the virtio-net offloads. It
// imports no other meshnet package except internal/packet (MAC, Ethernet
// layout, checksum); in particular it knows nothing of routing or encap.
//
// Goroutines and locks: a Device's reads (Read, TryRead, WaitReadable) are
// serialised by the device (the kernel queue's readMu) and are meant for one
// reading goroutine, the Forwarder's port; Write may be called from several
// goroutines at once (the transports' receive goroutines). Close ends a
// blocked read. The netstack device has no goroutine of its own: the
// stack's goroutines frame what they send (writeNotify); Close stops them.
package tun
