package netlab

import (
	"encoding/binary"
	"testing"
)

// pcapFile builds a little-endian Ethernet pcap file holding frames.
func pcapFile(frames ...[]byte) []byte {
	h := make([]byte, pcapGlobalLen)
	binary.LittleEndian.PutUint32(h, 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], 65535)
	binary.LittleEndian.PutUint32(h[20:], linkEthernet)
	for _, f := range frames {
		r := make([]byte, pcapRecordLen)
		binary.LittleEndian.PutUint32(r[8:], uint32(len(f)))
		binary.LittleEndian.PutUint32(r[12:], uint32(len(f)))
		h = append(append(h, r...), f...)
	}
	return h
}

// udp4Frame is an Ethernet/IPv4/UDP frame from sport to dport.
func udp4Frame(sport, dport uint16, payload ...byte) []byte {
	f := make([]byte, 14+20+8)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	f[14], f[14+9] = 0x45, 17
	binary.BigEndian.PutUint16(f[34:], sport)
	binary.BigEndian.PutUint16(f[36:], dport)
	return append(f, payload...)
}

func TestReadPcapLeavesOutAPartialRecord(t *testing.T) {
	data := pcapFile(udp4Frame(51820, 51820, 4), udp4Frame(7946, 7946))
	frames, err := ReadPcap(data)
	if err != nil || len(frames) != 2 {
		t.Fatalf("ReadPcap = %d frames, %v; want 2", len(frames), err)
	}
	if !UDPPort(51820)(frames[0]) || UDPPort(51820)(frames[1]) {
		t.Error("UDPPort matched the wrong frames")
	}
	if _, _, p, ok := UDPPorts(frames[0]); !ok || len(p) != 1 || p[0] != 4 {
		t.Errorf("payload = %v, %t", p, ok)
	}
	if frames, err := ReadPcap(data[:len(data)-3]); err != nil || len(frames) != 1 {
		t.Errorf("a file cut inside its last record: %d frames, %v; want 1", len(frames), err)
	}
	if _, err := ReadPcap(make([]byte, 40)); err == nil {
		t.Error("a file without the pcap magic was read")
	}
}

func FuzzReadPcap(f *testing.F) {
	f.Add(pcapFile(udp4Frame(1, 2, 3)))
	f.Add(pcapFile())
	f.Fuzz(func(t *testing.T, data []byte) {
		frames, _ := ReadPcap(data)
		for _, fr := range frames {
			UDPPorts(fr)
		}
	})
}
