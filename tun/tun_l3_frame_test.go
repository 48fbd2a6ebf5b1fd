//go:build linux

package tun

import (
	"bytes"
	"net/netip"
	"testing"

	"meshnet.dev/meshnet/internal/packet"
)

// TestTUNFrameAllCompactsOverDrops checks the read-side batch handling
// without a device: dropped packets leave no gap and are counted.
func TestTUNFrameAllCompactsOverDrops(t *testing.T) {
	dev := &TUN{framer: testFramer()}
	pkts := [][]byte{
		ipv4Packet(netip.MustParseAddr("10.1.0.2"), 10),
		{0x50, 1, 2, 3}, // not IP
		ipv6Packet(netip.MustParseAddr("fd00::2"), 10),
		ipv4Packet(netip.MustParseAddr("10.1.0.2"), 100), // does not fit its buffer
	}
	bufs, sizes := testBufs(len(pkts), testOffset+packet.EthHeaderLen+60)
	for i, p := range pkts {
		sizes[i] = copy(bufs[i][testOffset+packet.EthHeaderLen:], p)
	}
	sizes[3] = len(pkts[3]) // as segmentation reports it
	if k := dev.frameAll(bufs, sizes, testOffset); k != 2 {
		t.Fatalf("frameAll kept %d frames, want 2", k)
	}
	for i, want := range [][]byte{pkts[0], pkts[2]} {
		f := bufs[i][testOffset : testOffset+sizes[i]]
		if !bytes.Equal(f[packet.EthHeaderLen:], want) || packet.MAC(f[0:6]) != testPeerMAC || packet.MAC(f[6:12]) != testOwnMAC {
			t.Errorf("frame %d = %x", i, f)
		}
	}
	if d := dev.Drops(); d["not_ip"] != 1 || d["truncated"] != 1 {
		t.Errorf("Drops = %v, want one not_ip and one truncated", d)
	}
}
