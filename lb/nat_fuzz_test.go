package lb

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

// FuzzNAT feeds arbitrary bytes to DNAT and SNAT. Packets that do not parse
// must come back untouched; packets that do must end up with the new
// address and port, with every checksum that was right before still right
// (checked by full recomputation), and with no other byte changed.
func FuzzNAT(f *testing.F) {
	for _, tc := range natCases() {
		f.Add(buildIP(f, tc.proto, tc.client, tc.vip, tc.opts), tc.backend.Addr().AsSlice(), tc.backend.Port(), true)
	}
	f.Add([]byte{0x45, 0, 0, 20}, []byte{1, 2, 3, 4}, uint16(1), false)
	f.Fuzz(func(t *testing.T, pkt, addr []byte, port uint16, fix bool) {
		var p ipPacket
		if err := parseIP(pkt, &p); err != nil {
			orig := bytes.Clone(pkt)
			if DNAT(pkt, netip.AddrPortFrom(netip.IPv4Unspecified(), port)) == nil {
				t.Fatal("DNAT accepted a packet parseIP rejects")
			}
			if !bytes.Equal(orig, pkt) {
				t.Fatal("rejected packet was modified")
			}
			return
		}
		if fix {
			fixChecksums(pkt, &p)
		}
		to := fuzzAddr(addr, port, p.v6)
		for _, dst := range []bool{true, false} {
			natOnce(t, pkt, dst, to)
		}
	})
}

func natOnce(t *testing.T, pkt []byte, dst bool, to netip.AddrPort) {
	var p ipPacket
	if err := parseIP(pkt, &p); err != nil {
		t.Fatalf("packet stopped parsing after NAT: %v", err)
	}
	before := checkChecksums(pkt, &p)
	orig := bytes.Clone(pkt)
	var err error
	if dst {
		err = DNAT(pkt, to)
	} else {
		err = SNAT(pkt, to)
	}
	if !p.hasPorts {
		if err == nil || !bytes.Equal(orig, pkt) {
			t.Fatalf("packet without ports: err=%v, modified=%v", err, !bytes.Equal(orig, pkt))
		}
		return
	}
	if err != nil {
		t.Fatalf("NAT of a parsed packet with ports: %v", err)
	}
	var q ipPacket
	if err := parseIP(pkt, &q); err != nil {
		t.Fatalf("NATed packet does not parse: %v", err)
	}
	got, kept, keptWas := q.dst, q.src, p.src
	if !dst {
		got, kept, keptWas = q.src, q.dst, p.dst
	}
	if got != to {
		t.Fatalf("NAT to %v produced %v", to, got)
	}
	if kept.Addr() != keptWas.Addr() {
		t.Fatalf("other address changed from %v to %v", keptWas, kept)
	}
	after := checkChecksums(pkt, &q)
	if before.ip && !after.ip {
		t.Fatal("IPv4 header checksum broken by NAT")
	}
	if before.l4 && !after.l4 {
		t.Fatalf("%v checksum broken by NAT", p.proto)
	}
	allowed := natTouched(&p, dst)
	for i := range pkt {
		if pkt[i] != orig[i] && !allowed(i) {
			t.Fatalf("byte %d changed (%#x -> %#x) outside the fields NAT owns", i, orig[i], pkt[i])
		}
	}
}

// natTouched returns which byte offsets NAT may change: the address, the
// port (or echo identifier) and the checksums covering them.
func natTouched(p *ipPacket, dst bool) func(int) bool {
	addrOff, addrLen := 12, 4
	if p.v6 {
		addrOff, addrLen = 8, 16
	}
	if dst {
		addrOff += addrLen
	}
	portOff := p.l4
	switch {
	case p.proto == ProtoICMP || p.proto == ProtoICMPv6:
		portOff += 4
	case dst:
		portOff += 2
	}
	csOff := p.l4 + csumOffset(p.proto)
	return func(i int) bool {
		return (i >= addrOff && i < addrOff+addrLen) || i == portOff || i == portOff+1 ||
			i == csOff || i == csOff+1 || (!p.v6 && (i == 10 || i == 11))
	}
}

func fuzzAddr(b []byte, port uint16, v6 bool) netip.AddrPort {
	var a [16]byte
	copy(a[:], b)
	if v6 {
		ip := netip.AddrFrom16(a)
		if ip.Is4In6() {
			a[0] = 0xfd // keep it a plain IPv6 address
			ip = netip.AddrFrom16(a)
		}
		return netip.AddrPortFrom(ip, port)
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[:4])), port)
}

// fixChecksums writes correct checksums into a parsed packet, so the fuzzer
// also exercises packets whose checksums NAT must keep valid.
func fixChecksums(pkt []byte, p *ipPacket) {
	if !p.v6 {
		hl := int(pkt[0]&0x0f) * 4
		binary.BigEndian.PutUint16(pkt[10:], ipv4HeaderChecksum(pkt[:hl]))
	}
	if !p.hasPorts || p.fragment {
		return
	}
	off := p.l4 + csumOffset(p.proto)
	if p.proto == ProtoUDP && !p.v6 && pkt[off] == 0 && pkt[off+1] == 0 {
		return
	}
	cs := l4Checksum(pkt[:p.end], p.l4, p.proto, off)
	if p.proto == ProtoUDP && cs == 0 {
		cs = 0xffff
	}
	binary.BigEndian.PutUint16(pkt[off:], cs)
}
