package node

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/routing"
	"meshnet.dev/meshnet/tun"
)

func TestPerformanceDefaultsOn(t *testing.T) {
	c := DefaultConfig()
	c.Name, c.StateDir = "n1", "/var/lib/meshnet"
	s, err := c.validate()
	if err != nil {
		t.Fatal(err)
	}
	p := s.perf
	if !p.deviceOffload || !p.udpOffload || !p.checksumOffload || !p.trustTransport || !p.directSend || p.coalesceUDP || p.cpuProfile != "" {
		t.Fatalf("defaults %+v: want every offload on, UDP coalescing and profiling off", p)
	}
	off := false
	c.Performance = PerformanceConfig{DeviceOffload: &off, UDPOffload: &off, ChecksumOffload: &off, TrustTransport: &off, DirectSend: &off}
	s, err = c.validate()
	if err != nil {
		t.Fatal(err)
	}
	tap, tn := s.perf.tapConfig(tun.TAPConfig{}), s.perf.tunConfig(tun.TUNConfig{})
	wg := s.perf.wireGuardConfig(encap.WireGuardConfig{})
	if !tap.DisableOffload || !tn.DisableOffload || !wg.DisableOffload || !wg.FullInnerChecksum ||
		!s.perf.plainConfig(encap.PlainConfig{}).DisableOffload || !s.perf.forwarderConfig(routing.Config{}).VerifyInnerChecksums || !s.perf.forwarderConfig(routing.Config{}).CopySend {
		t.Fatal("switches set to false did not reach the device, transport and forwarder configs")
	}
}

func TestPerformanceCPUProfilePath(t *testing.T) {
	c := DefaultConfig()
	c.Name, c.StateDir = "n1", "/var/lib/meshnet"
	c.Performance.CPUProfile = "cpu.pprof"
	if _, err := c.validate(); err == nil || !strings.Contains(err.Error(), "performance.cpu_profile") {
		t.Fatalf("relative cpu_profile: %v, want an error naming performance.cpu_profile", err)
	}
}

func TestCPUProfileWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	n := &Node{spec: &spec{perf: perfSpec{cpuProfile: path}}, log: slog.New(slog.DiscardHandler)}
	stop, err := n.startCPUProfile()
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Fatalf("profile %s: %v (size %d)", path, err, fi.Size())
	}
}
