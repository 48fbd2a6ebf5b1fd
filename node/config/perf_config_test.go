package config

import (
	"strings"
	"testing"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/routing"
	"meshnet.dev/meshnet/tun"
)

func TestPerformanceDefaultsOn(t *testing.T) {
	c := DefaultConfig()
	c.Name, c.StateDir = "n1", "/var/lib/meshnet"
	s, err := c.Validate()
	if err != nil {
		t.Fatal(err)
	}
	p := s.Perf
	if !p.DeviceOffload || !p.UDPOffload || !p.ChecksumOffload || !p.TrustTransport || !p.DirectSend || p.CoalesceUDP || p.CPUProfile != "" {
		t.Fatalf("defaults %+v: want every offload on, UDP coalescing and profiling off", p)
	}
	off := false
	c.Performance = PerformanceConfig{DeviceOffload: &off, UDPOffload: &off, ChecksumOffload: &off, TrustTransport: &off, DirectSend: &off}
	s, err = c.Validate()
	if err != nil {
		t.Fatal(err)
	}
	tap, tn := s.Perf.TAPConfig(tun.TAPConfig{}), s.Perf.TUNConfig(tun.TUNConfig{})
	wg := s.Perf.WireGuardConfig(encap.WireGuardConfig{})
	if !tap.DisableOffload || !tn.DisableOffload || !wg.DisableOffload || !wg.FullInnerChecksum ||
		!s.Perf.PlainConfig(encap.PlainConfig{}).DisableOffload || !s.Perf.ForwarderConfig(routing.Config{}).VerifyInnerChecksums || !s.Perf.ForwarderConfig(routing.Config{}).CopySend {
		t.Fatal("switches set to false did not reach the device, transport and forwarder configs")
	}
}

func TestPerformanceCPUProfilePath(t *testing.T) {
	c := DefaultConfig()
	c.Name, c.StateDir = "n1", "/var/lib/meshnet"
	c.Performance.CPUProfile = "cpu.pprof"
	if _, err := c.Validate(); err == nil || !strings.Contains(err.Error(), "performance.cpu_profile") {
		t.Fatalf("relative cpu_profile: %v, want an error naming performance.cpu_profile", err)
	}
}

func TestPerformanceHeapProfilePath(t *testing.T) {
	c := DefaultConfig()
	c.Name, c.StateDir = "n1", "/var/lib/meshnet"
	c.Performance.HeapProfile = "heap.pprof"
	if _, err := c.Validate(); err == nil || !strings.Contains(err.Error(), "performance.heap_profile") {
		t.Fatalf("relative heap_profile: %v, want an error naming performance.heap_profile", err)
	}
	c.Performance.HeapProfile = "/var/lib/meshnet/heap.pprof"
	if s, err := c.Validate(); err != nil || s.Perf.HeapProfile != c.Performance.HeapProfile {
		t.Fatalf("absolute heap_profile: %v", err)
	}
}

func TestPerformanceWireGuardBatch(t *testing.T) {
	c := DefaultConfig()
	c.Name, c.StateDir = "n1", "/var/lib/meshnet"
	for _, bad := range []int{-1, encap.MaxWireGuardBatch + 1} {
		c.Performance.WireGuardBatch = bad
		if _, err := c.Validate(); err == nil || !strings.Contains(err.Error(), "performance.wireguard_batch") || !strings.Contains(err.Error(), "1-64") {
			t.Fatalf("wireguard_batch %d: %v, want an error naming the key and the range", bad, err)
		}
	}
	c.Performance.WireGuardBatch = 8
	s, err := c.Validate()
	if err != nil {
		t.Fatal(err)
	}
	if wg := s.Perf.WireGuardConfig(encap.WireGuardConfig{}); wg.Batch != 8 {
		t.Fatalf("wireguard_batch 8 reached the transport as %d", wg.Batch)
	}
}
