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

func TestPerformanceMemorySettings(t *testing.T) {
	for _, tc := range []struct {
		limit int
		heap  string
		want  int64
		err   string
	}{
		{limit: 0, want: DefaultMemoryLimitMiB << 20},
		{limit: -1, want: 0},
		{limit: 200, want: 200 << 20},
		{limit: -2, err: "performance.memory_limit_mib"},
		{limit: 1 << 31, err: "performance.memory_limit_mib"},
		{heap: "heap.pprof", err: "performance.heap_profile"},
	} {
		c := DefaultConfig()
		c.Name, c.StateDir = "n1", "/var/lib/meshnet"
		c.Performance.MemoryLimit, c.Performance.HeapProfile = tc.limit, tc.heap
		s, err := c.Validate()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("limit %d, heap %q: %v, want an error naming %s", tc.limit, tc.heap, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("limit %d: %v", tc.limit, err)
		} else if s.Perf.MemoryLimit != tc.want {
			t.Errorf("limit %d: %d bytes, want %d", tc.limit, s.Perf.MemoryLimit, tc.want)
		}
	}
}
