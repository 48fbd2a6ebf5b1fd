package tun

// Frames a host behind a device would send, and a responder that plays that
// host: it answers ARP and ICMP echo for its address, so the kernel's ping
// through a device succeeds only if frames pass both ways.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"meshnet.dev/meshnet/internal/packet"
)

// testBufSize is the data path's buffer size (encap.MaxPacket).
const testBufSize = 65535 + testOffset

func checksum(b []byte, initial uint32) uint16 {
	sum := initial
	for ; len(b) >= 2; b = b[2:] {
		sum += uint32(b[0])<<8 | uint32(b[1])
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// arpReply answers an ARP request for ip from mac, or returns nil.
func arpReply(f []byte, ip netip.Addr, mac packet.MAC) []byte {
	if len(f) < 42 || binary.BigEndian.Uint16(f[12:14]) != packet.EtherTypeARP ||
		binary.BigEndian.Uint16(f[20:22]) != 1 || netip.AddrFrom4([4]byte(f[38:42])) != ip {
		return nil
	}
	r := make([]byte, 42)
	copy(r[0:6], f[6:12])
	copy(r[6:12], mac[:])
	binary.BigEndian.PutUint16(r[12:14], packet.EtherTypeARP)
	copy(r[14:20], []byte{0, 1, 8, 0, 6, 4}) // Ethernet, IPv4
	binary.BigEndian.PutUint16(r[20:22], 2)
	copy(r[22:28], mac[:])
	a := ip.As4()
	copy(r[28:32], a[:])
	copy(r[32:42], f[22:32]) // the asker's MAC and IP
	return r
}

// echoReply answers an ICMP echo request to ip from mac, or returns nil.
func echoReply(f []byte, ip netip.Addr, mac packet.MAC) []byte {
	if len(f) < packet.EthHeaderLen+packet.IPv4MinHeaderLen+8 || binary.BigEndian.Uint16(f[12:14]) != packet.EtherTypeIPv4 {
		return nil
	}
	pkt := f[packet.EthHeaderLen:]
	ihl := int(pkt[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(pkt[2:4]))
	if pkt[9] != 1 || netip.AddrFrom4([4]byte(pkt[16:20])) != ip || total > len(pkt) || ihl+8 > total || pkt[ihl] != 8 {
		return nil
	}
	r := bytes.Clone(f[:packet.EthHeaderLen+total])
	copy(r[0:6], f[6:12])
	copy(r[6:12], mac[:])
	rp := r[packet.EthHeaderLen:]
	copy(rp[12:16], pkt[16:20])
	copy(rp[16:20], pkt[12:16])
	rp[8] = 64
	rp[10], rp[11] = 0, 0
	binary.BigEndian.PutUint16(rp[10:12], checksum(rp[:ihl], 0))
	icmp := rp[ihl:]
	icmp[0] = 0
	icmp[2], icmp[3] = 0, 0
	binary.BigEndian.PutUint16(icmp[2:4], checksum(icmp, 0))
	return r
}

// udp4Packet builds an IPv4 UDP packet with valid checksums.
func udp4Packet(src, dst netip.AddrPort, payload []byte) []byte {
	p := make([]byte, 28+len(payload))
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:4], uint16(len(p)))
	p[8], p[9] = 64, 17
	s, d := src.Addr().As4(), dst.Addr().As4()
	copy(p[12:16], s[:])
	copy(p[16:20], d[:])
	binary.BigEndian.PutUint16(p[10:12], checksum(p[:20], 0))
	u := p[20:]
	binary.BigEndian.PutUint16(u[0:2], src.Port())
	binary.BigEndian.PutUint16(u[2:4], dst.Port())
	binary.BigEndian.PutUint16(u[4:6], uint16(len(u)))
	copy(u[8:], payload)
	pseudo := uint32(binary.BigEndian.Uint16(s[0:2])) + uint32(binary.BigEndian.Uint16(s[2:4])) +
		uint32(binary.BigEndian.Uint16(d[0:2])) + uint32(binary.BigEndian.Uint16(d[2:4])) + 17 + uint32(len(u))
	binary.BigEndian.PutUint16(u[6:8], checksum(u, pseudo))
	return p
}

// inBuf places frame at testOffset in a buffer of the data path's size.
func inBuf(frame []byte) []byte {
	b := make([]byte, testOffset+len(frame), testBufSize)
	copy(b[testOffset:], frame)
	return b
}

// responder plays the host ip/mac behind dev. It records every frame and the
// size of every read batch.
type responder struct {
	dev Device
	ip  netip.Addr
	mac packet.MAC

	mu      sync.Mutex
	frames  [][]byte
	batches []int
	echoes  int
}

// run serves until dev is closed or, if stopAfter > 0, until it has answered
// that many echo requests.
func (r *responder) run(stopAfter int) error {
	bufs := make([][]byte, r.dev.BatchSize())
	for i := range bufs {
		bufs[i] = make([]byte, testBufSize)
	}
	sizes := make([]int, len(bufs))
	for {
		n, err := r.dev.Read(bufs, sizes, testOffset)
		if err != nil {
			return err
		}
		r.mu.Lock()
		r.batches = append(r.batches, n)
		r.mu.Unlock()
		for i := range n {
			f := bufs[i][testOffset : testOffset+sizes[i]]
			r.mu.Lock()
			r.frames = append(r.frames, bytes.Clone(f))
			r.mu.Unlock()
			reply := arpReply(f, r.ip, r.mac)
			echo := reply == nil
			if echo {
				reply = echoReply(f, r.ip, r.mac)
			}
			if reply == nil {
				continue
			}
			if _, err := r.dev.Write([][]byte{inBuf(reply)}, testOffset); err != nil {
				return err
			}
			if echo {
				r.mu.Lock()
				r.echoes++
				done := stopAfter > 0 && r.echoes >= stopAfter
				r.mu.Unlock()
				if done {
					return nil
				}
			}
		}
	}
}

// saw reports whether some frame read so far satisfies pred.
func (r *responder) saw(pred func(f []byte) bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.frames {
		if pred(f) {
			return true
		}
	}
	return false
}

func (r *responder) maxBatch() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := 0
	for _, n := range r.batches {
		m = max(m, n)
	}
	return m
}

// startResponder runs a responder on dev until the test ends; cleanup closes
// dev and checks the responder stopped with ErrClosed.
func startResponder(t *testing.T, dev Device, ip netip.Addr, mac packet.MAC) *responder {
	r := &responder{dev: dev, ip: ip, mac: mac}
	done := make(chan error, 1)
	go func() { done <- r.run(0) }()
	t.Cleanup(func() {
		dev.Close()
		select {
		case err := <-done:
			if !errors.Is(err, ErrClosed) {
				t.Errorf("responder stopped with %v, want ErrClosed", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("responder did not stop within 10s of Close")
		}
	})
	return r
}

// hasHeader reports whether f's Ethernet header is dst, src, etype.
func hasHeader(f []byte, dst, src packet.MAC, etype uint16) bool {
	return len(f) >= packet.EthHeaderLen && packet.MAC(f[0:6]) == dst && packet.MAC(f[6:12]) == src &&
		binary.BigEndian.Uint16(f[12:14]) == etype
}
