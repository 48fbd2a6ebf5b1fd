package encap

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"

	"meshnet.dev/meshnet/internal/packet"
)

// FuzzWireGuardTunnelHeader checks the inbound IPv6/UDP parser: it never
// panics, accepts only what it can vouch for (IPv6, UDP, lengths inside the
// packet), reads the fields where they are, and agrees with the encoder.
func FuzzWireGuardTunnelHeader(f *testing.F) {
	good := make([]byte, tunnelHeaderLen+HeaderLen+14)
	vx := make([]byte, HeaderLen+14)
	Encode(vx, 42)
	encodeTunnelled(good, vx, tunnelFields{src: testSrcVTEP, dst: testDstVTEP})
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{0x60})
	f.Add(good[:packet.IPv6HeaderLen])
	f.Fuzz(func(t *testing.T, b []byte) {
		h, why := parseTunnelHeader(b)
		if why != WGDropNone {
			if why >= numWGDropReasons || why == WGDropNotStarted || why == WGDropWrongPort || why == WGDropNotForUs {
				t.Fatalf("parse gave reason %v, which is not a header problem", why)
			}
		} else {
			payload := int(binary.BigEndian.Uint16(b[4:6]))
			switch {
			case b[0]>>4 != 6 || b[6] != packet.ProtoUDP:
				t.Fatalf("accepted a packet with version %d, next header %d", b[0]>>4, b[6])
			case tunnelHeaderLen+h.payloadLen > len(b) || packet.UDPHeaderLen+h.payloadLen > payload || packet.IPv6HeaderLen+payload > len(b):
				t.Fatalf("accepted %d payload bytes in a %d-byte packet with payload length %d", h.payloadLen, len(b), payload)
			case h.src != netip.AddrFrom16([16]byte(b[8:24])) || h.dst != netip.AddrFrom16([16]byte(b[24:40])):
				t.Fatalf("addresses %s → %s do not match the header", h.src, h.dst)
			case h.dstPort != binary.BigEndian.Uint16(b[42:44]):
				t.Fatalf("port %d does not match the header", h.dstPort)
			}
		}

		// Whatever b is, carried as a VXLAN payload it survives the trip.
		if len(b) > WireGuardMaxPacket {
			return
		}
		out := make([]byte, tunnelHeaderLen+len(b))
		n := encodeTunnelled(out, b, tunnelFields{src: testSrcVTEP, dst: testDstVTEP})
		h, why = parseTunnelHeader(out[:n])
		if why != WGDropNone || h.payloadLen != len(b) || h.src != testSrcVTEP || h.dst != testDstVTEP || h.dstPort != Port {
			t.Fatalf("encoded packet parses as %+v, %v", h, why)
		}
		if !bytes.Equal(out[tunnelHeaderLen:n], b) || !udpChecksumOK(out[:n]) {
			t.Fatal("encoded packet has a changed payload or a bad checksum")
		}
	})
}

// FuzzWireGuardIpcGet checks the device-state parser: it never panics,
// respects its limits, and its errors never quote a key line's value.
func FuzzWireGuardIpcGet(f *testing.F) {
	f.Add("private_key=" + strings.Repeat("ab", 32) + "\nlisten_port=51820\n" +
		"public_key=" + strings.Repeat("cd", 32) + "\npreshared_key=" + strings.Repeat("00", 32) + "\n" +
		"protocol_version=1\nendpoint=127.0.0.1:51821\nlast_handshake_time_sec=1700000000\nlast_handshake_time_nsec=5\n" +
		"tx_bytes=10\nrx_bytes=20\npersistent_keepalive_interval=25\nallowed_ip=fd00::1/128\n")
	f.Add("public_key=zz\n")
	f.Add("private_key=secret-value\nbroken line\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		// Key lines carry a marker that must never come out in an error.
		const marker = "SECRET0f3a9c"
		lines := strings.Split(s, "\n")
		for i, line := range lines {
			if k, _, ok := strings.Cut(line, "="); ok && (k == "private_key" || k == "preshared_key") {
				lines[i] = k + "=" + marker
			} else if strings.Contains(line, marker) {
				return
			}
		}
		d, err := parseIpcGet(strings.Join(lines, "\n"))
		if err != nil {
			if strings.Contains(err.Error(), marker) {
				t.Fatalf("error %q quotes a key", err)
			}
			return
		}
		if len(d.peers) > maxIpcPeers {
			t.Fatalf("%d peers accepted, limit %d", len(d.peers), maxIpcPeers)
		}
		for _, p := range d.peers {
			if len(p.allowed) > maxIpcAllowedIPs {
				t.Fatalf("%d allowed IPs kept, limit %d", len(p.allowed), maxIpcAllowedIPs)
			}
		}
	})
}

func TestParseIpcGet(t *testing.T) {
	pub := strings.Repeat("cd", 32)
	d, err := parseIpcGet("private_key=" + strings.Repeat("ab", 32) + "\nlisten_port=51820\n" +
		"public_key=" + pub + "\npreshared_key=" + strings.Repeat("ef", 32) + "\nprotocol_version=1\n" +
		"endpoint=[::ffff:127.0.0.1]:51821\nlast_handshake_time_sec=1700000000\nlast_handshake_time_nsec=5\n" +
		"tx_bytes=10\nrx_bytes=20\npersistent_keepalive_interval=25\nallowed_ip=fd00::1/128\nallowed_ip=10.0.0.0/8\n" +
		"public_key=" + strings.Repeat("01", 32) + "\nlast_handshake_time_sec=0\nlast_handshake_time_nsec=0\n")
	if err != nil {
		t.Fatal(err)
	}
	if d.listenPort != 51820 || len(d.peers) != 2 {
		t.Fatalf("parsed %+v", d)
	}
	p := d.peers[0]
	if p.pub[0] != 0xcd || p.endpoint != netip.MustParseAddrPort("127.0.0.1:51821") || p.txBytes != 10 || p.rxBytes != 20 ||
		p.keepalive.Seconds() != 25 || p.lastHandshake.Unix() != 1700000000 || p.lastHandshake.Nanosecond() != 5 ||
		vtepOf(p.allowed) != netip.MustParseAddr("fd00::1") || len(p.allowed) != 2 {
		t.Errorf("first peer = %+v", p)
	}
	if !d.peers[1].lastHandshake.IsZero() {
		t.Errorf("a peer without handshake has time %v", d.peers[1].lastHandshake)
	}
	if _, err := parseIpcGet("private_key=" + strings.Repeat("ab", 32) + "\npublic_key=xyz\n"); err == nil || strings.Contains(err.Error(), "abab") {
		t.Errorf("bad public key: err = %v; want an error that does not quote the private key", err)
	}
}
