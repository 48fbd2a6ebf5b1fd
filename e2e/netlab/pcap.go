package netlab

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A pcap file (libpcap's classic format, as tcpdump -w writes it):
//
//	global header, 24 bytes: magic a1b2c3d4 (µs) or a1b23c4d (ns), in the
//	writer's byte order; version; zone; sigfigs; snaplen; link type
//	record header, 16 bytes: seconds, fraction, captured length, wire length
//	then the captured bytes
//
// ReadPcap returns the complete records; a record still being written at
// the end of a growing file is left out.

const (
	pcapGlobalLen = 24
	pcapRecordLen = 16
	linkEthernet  = 1
	// pcapMaxRecord bounds a record's length (a corrupt file must not make
	// the reader slice past its data).
	pcapMaxRecord = 1 << 18
)

// ReadPcap parses an Ethernet pcap file into its frames.
func ReadPcap(data []byte) ([][]byte, error) {
	if len(data) < pcapGlobalLen {
		return nil, nil // tcpdump has not written its header yet
	}
	var bo binary.ByteOrder
	switch binary.LittleEndian.Uint32(data) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		bo = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		bo = binary.BigEndian
	default:
		return nil, errors.New("netlab: not a pcap file")
	}
	if lt := bo.Uint32(data[20:]); lt != linkEthernet {
		return nil, fmt.Errorf("netlab: pcap link type %d, want Ethernet", lt)
	}
	var frames [][]byte
	for rest := data[pcapGlobalLen:]; len(rest) >= pcapRecordLen; {
		n := int(bo.Uint32(rest[8:]))
		if n > pcapMaxRecord {
			return frames, fmt.Errorf("netlab: pcap record of %d bytes", n)
		}
		if len(rest) < pcapRecordLen+n {
			break
		}
		frames = append(frames, rest[pcapRecordLen:pcapRecordLen+n])
		rest = rest[pcapRecordLen+n:]
	}
	return frames, nil
}

// UDPPorts returns the ports and payload of an Ethernet frame carrying
// UDP over IPv4 or IPv6 (no extension headers, first fragment only).
func UDPPorts(frame []byte) (src, dst uint16, payload []byte, ok bool) {
	if len(frame) < 14 {
		return 0, 0, nil, false
	}
	ip := frame[14:]
	var l4 []byte
	switch binary.BigEndian.Uint16(frame[12:]) {
	case 0x0800:
		if len(ip) < 20 || ip[9] != 17 || binary.BigEndian.Uint16(ip[6:])&0x1fff != 0 {
			return 0, 0, nil, false
		}
		ihl := int(ip[0]&0x0f) * 4
		if ihl < 20 || len(ip) < ihl {
			return 0, 0, nil, false
		}
		l4 = ip[ihl:]
	case 0x86dd:
		if len(ip) < 40 || ip[6] != 17 {
			return 0, 0, nil, false
		}
		l4 = ip[40:]
	default:
		return 0, 0, nil, false
	}
	if len(l4) < 8 {
		return 0, 0, nil, false
	}
	return binary.BigEndian.Uint16(l4), binary.BigEndian.Uint16(l4[2:]), l4[8:], true
}
