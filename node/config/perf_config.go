package config

import (
	"fmt"
	"path/filepath"
	"strconv"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/routing"
	"meshnet.dev/meshnet/tun"
)

// PerformanceConfig switches the data path's optimisations. Each is on by
// default where the kernel supports it (devices and sockets probe for
// themselves at start and use what the kernel grants); a switch turns one
// off for a kernel, NIC or driver where it misbehaves. docs/PERFORMANCE.md
// has what each is worth.
type PerformanceConfig struct {
	// DeviceOffload opens TAP and TUN devices with the virtio-net header:
	// the kernel hands over TCP super-frames of up to 64 KiB that meshnet
	// cuts into MTU-sized frames itself, and writes coalesce the segments
	// of a flow back into one. Off: the kernel segments and checksums every
	// frame and writes are one frame each. Default true.
	DeviceOffload *bool `yaml:"device_offload"`
	// CoalesceUDP also coalesces equal-sized UDP datagrams of a flow on
	// device writes (Linux 6.2+). Default false: the kernel cuts them up
	// again for sockets that did not ask for UDP GRO, and the bursts cost
	// more at a busy receiver than the saved writes gain.
	CoalesceUDP bool `yaml:"coalesce_udp"`
	// UDPOffload uses UDP segmentation (GSO) when sending and generic
	// receive offload (GRO) when receiving on the VXLAN and WireGuard
	// sockets. Off: one datagram per message. Some kernels and NICs break
	// UDP GSO under VXLAN; the sockets fall back by themselves when the
	// kernel refuses GSO with EIO, this switch is for the silent cases.
	// Default true.
	UDPOffload *bool `yaml:"udp_offload"`
	// ChecksumOffload derives the encrypted transport's inner UDP checksum
	// from the checksum of the TCP or UDP segment it carries, reading only
	// headers (the kernel's local checksum offload). Off: every byte is
	// summed. Both give the same checksum. Default true.
	ChecksumOffload *bool `yaml:"checksum_offload"`
	// TrustTransport writes frames whose integrity the transport verified
	// end to end (WireGuard's authentication; the UDP checksum a meshnet
	// peer always sends, checked by the kernel) without verifying their
	// TCP/UDP checksums again, and tells the kernel so, as kernel WireGuard
	// does. Frames from static VXLAN peers are always verified. Off: every
	// frame is verified before coalescing and by the kernel. Default true.
	TrustTransport *bool `yaml:"trust_transport"`
	// DirectSend reads frames of encrypted networks from the device straight
	// into the encrypted transport's own buffers, saving a copy per packet.
	// Off: frames are read into the forwarder's buffers and copied, as for
	// plain networks. Default true.
	DirectSend *bool `yaml:"direct_send"`
	// WireGuardReceiveQueue bounds the data packets the encrypted transport
	// holds between its socket and delivery; each costs a 64 KiB buffer in
	// the embedded WireGuard, whose own queues are unbounded in practice
	// (the socket buffer holds what waits beyond). 0 means the default,
	// 128 (8 MiB); -1 means no bound.
	WireGuardReceiveQueue int `yaml:"wireguard_receive_queue"`
	// WireGuardSendQueue bounds the data packets the encrypted transport
	// holds between taking them from the device and its socket, 64 KiB
	// each as on the way in (the device's queue holds what waits beyond).
	// 0 means the default, 128 (8 MiB); -1 means no bound.
	WireGuardSendQueue int `yaml:"wireguard_send_queue,omitempty"`
	// WireGuardBatch is the most packets the encrypted transport reads
	// from its socket, and from the device, at a time (1-64). It holds a
	// 64 KiB buffer per packet of a batch each way for as long as it runs:
	// the default, 32, keeps 4 MiB; 64 keeps 8 MiB. 0 means the default.
	WireGuardBatch int `yaml:"wireguard_batch,omitempty"`
	// HeapProfile, if set, is a file the daemon writes a heap profile to
	// (pprof format, `go tool pprof -sample_index=inuse_space meshnet
	// FILE`) each time the heap reaches a new peak, and to the same name
	// with ".idle" before the extension once traffic has stopped and free
	// memory was given back, for finding where memory goes. Default ""
	// (off).
	HeapProfile string `yaml:"heap_profile,omitempty"`
	// CPUProfile, if set, is a file the daemon writes a CPU profile to
	// (pprof format, `go tool pprof meshnet FILE`) from start until it
	// exits. Profiling costs a few percent of CPU. Default "" (off).
	CPUProfile string `yaml:"cpu_profile"`
}

// PerfSpec is a validated PerformanceConfig.
type PerfSpec struct {
	DeviceOffload, CoalesceUDP, UDPOffload bool
	ChecksumOffload, TrustTransport        bool
	DirectSend                             bool
	WGReceiveQueue, WGSendQueue, WGBatch   int
	CPUProfile, HeapProfile                string
}

// on reads an optional switch that defaults to on.
func on(b *bool) bool { return b == nil || *b }

// validate checks the section and returns its typed form.
func (p PerformanceConfig) validate(bad func(key, val, problem, fix string)) PerfSpec {
	if p.WireGuardReceiveQueue < -1 {
		bad("performance.wireguard_receive_queue", strconv.Itoa(p.WireGuardReceiveQueue), "out of range",
			"use a packet count, 0 for the default or -1 for no bound")
	}
	if p.WireGuardSendQueue < -1 {
		bad("performance.wireguard_send_queue", strconv.Itoa(p.WireGuardSendQueue), "out of range",
			"use a packet count, 0 for the default or -1 for no bound")
	}
	if p.WireGuardBatch < 0 || p.WireGuardBatch > encap.MaxWireGuardBatch {
		bad("performance.wireguard_batch", strconv.Itoa(p.WireGuardBatch), "out of range",
			fmt.Sprintf("use 1-%d packets, or 0 for the default (%d)", encap.MaxWireGuardBatch, encap.DefaultWireGuardBatch))
	}
	if p.CPUProfile != "" && !filepath.IsAbs(p.CPUProfile) {
		bad("performance.cpu_profile", p.CPUProfile, "must be an absolute path", "for example /var/lib/meshnet/cpu.pprof")
	}
	if p.HeapProfile != "" && !filepath.IsAbs(p.HeapProfile) {
		bad("performance.heap_profile", p.HeapProfile, "must be an absolute path", "for example /var/lib/meshnet/heap.pprof")
	}

	return PerfSpec{
		DeviceOffload:   on(p.DeviceOffload),
		CoalesceUDP:     p.CoalesceUDP,
		UDPOffload:      on(p.UDPOffload),
		ChecksumOffload: on(p.ChecksumOffload),
		TrustTransport:  on(p.TrustTransport),
		DirectSend:      on(p.DirectSend),
		WGReceiveQueue:  p.WireGuardReceiveQueue,
		WGSendQueue:     p.WireGuardSendQueue,
		WGBatch:         p.WireGuardBatch,
		CPUProfile:      p.CPUProfile,
		HeapProfile:     p.HeapProfile,
	}
}

// TAPConfig applies the device switches to a TAP's config.
func (p PerfSpec) TAPConfig(c tun.TAPConfig) tun.TAPConfig {
	c.DisableOffload, c.CoalesceUDP = !p.DeviceOffload, p.CoalesceUDP
	return c
}

// TUNConfig applies the device switches to a TUN's config.
func (p PerfSpec) TUNConfig(c tun.TUNConfig) tun.TUNConfig {
	c.DisableOffload, c.CoalesceUDP = !p.DeviceOffload, p.CoalesceUDP
	return c
}

// PlainConfig applies the socket switches to the plain transport's config.
func (p PerfSpec) PlainConfig(c encap.PlainConfig) encap.PlainConfig {
	c.DisableOffload = !p.UDPOffload
	return c
}

// WireGuardConfig applies the socket and checksum switches to the
// encrypted transport's config.
func (p PerfSpec) WireGuardConfig(c encap.WireGuardConfig) encap.WireGuardConfig {
	c.DisableOffload, c.FullInnerChecksum = !p.UDPOffload, !p.ChecksumOffload
	c.MaxReceiveInFlight, c.MaxSendInFlight = p.WGReceiveQueue, p.WGSendQueue
	c.Batch = p.WGBatch
	return c
}

// ForwarderConfig applies the checksum-trust and direct-send switches to
// the Forwarder's config.
func (p PerfSpec) ForwarderConfig(c routing.Config) routing.Config {
	c.VerifyInnerChecksums, c.CopySend = !p.TrustTransport, !p.DirectSend
	return c
}
