package lb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"meshnet.dev/meshnet/internal/packet"
	"meshnet.dev/meshnet/internal/testenv"
)

type natCase struct {
	name          string
	proto         Proto
	client, vip   netip.AddrPort
	backend       netip.AddrPort
	opts          pktOpts
	wantNoUDPCsum bool
}

func natCases() []natCase {
	c4 := netip.MustParseAddrPort("10.1.0.5:43211")
	v4 := netip.MustParseAddrPort("10.1.0.200:80")
	b4 := netip.MustParseAddrPort("10.1.0.17:8080")
	c6 := netip.MustParseAddrPort("[fd00:1::5]:43211")
	v6 := netip.MustParseAddrPort("[fd00:1::c8]:80")
	b6 := netip.MustParseAddrPort("[fd00:1::11]:8080")
	pl := []byte("hello, odd-length payload")
	echo := func(ap netip.AddrPort, id uint16) netip.AddrPort { return netip.AddrPortFrom(ap.Addr(), id) }
	return []natCase{
		{name: "tcp4", proto: ProtoTCP, client: c4, vip: v4, backend: b4, opts: pktOpts{tcpFlags: tcpSYN, payload: pl}},
		{name: "tcp4-options", proto: ProtoTCP, client: c4, vip: v4, backend: b4, opts: pktOpts{tcpFlags: tcpACK, ipv4Options: 8}},
		{name: "tcp6", proto: ProtoTCP, client: c6, vip: v6, backend: b6, opts: pktOpts{tcpFlags: tcpSYN, payload: pl}},
		{name: "tcp6-destopts", proto: ProtoTCP, client: c6, vip: v6, backend: b6, opts: pktOpts{ipv6DestOpts: true, payload: pl}},
		{name: "udp4", proto: ProtoUDP, client: c4, vip: v4, backend: b4, opts: pktOpts{payload: pl}},
		{name: "udp4-nocsum", proto: ProtoUDP, client: c4, vip: v4, backend: b4, opts: pktOpts{noUDPCsum: true, payload: pl}, wantNoUDPCsum: true},
		{name: "udp6", proto: ProtoUDP, client: c6, vip: v6, backend: b6, opts: pktOpts{payload: pl}},
		{name: "icmp4-echo", proto: ProtoICMP, client: echo(c4, 0x4242), vip: echo(v4, 0x4242), backend: echo(b4, 0x4242), opts: pktOpts{payload: pl}},
		{name: "icmp6-echo", proto: ProtoICMPv6, client: echo(c6, 0x4242), vip: echo(v6, 0x4242), backend: echo(b6, 0x4242), opts: pktOpts{payload: pl}},
		{name: "icmp6-echo-new-id", proto: ProtoICMPv6, client: echo(c6, 1), vip: echo(v6, 1), backend: echo(b6, 0xfffe)},
	}
}

// TestNATRoundTrip DNATs a client packet to a backend, checks every
// checksum by full recomputation, then SNATs the reverse and checks again.
func TestNATRoundTrip(t *testing.T) {
	for _, tc := range natCases() {
		t.Run(tc.name, func(t *testing.T) {
			orig := buildIP(t, tc.proto, tc.client, tc.vip, tc.opts)
			pkt := bytes.Clone(orig)
			if err := DNAT(pkt, tc.backend); err != nil {
				t.Fatalf("DNAT: %v", err)
			}
			p := mustParse(t, pkt)
			wantSrc := tc.client
			if tc.proto == ProtoICMP || tc.proto == ProtoICMPv6 {
				// The echo identifier is both "ports".
				wantSrc = netip.AddrPortFrom(tc.client.Addr(), tc.backend.Port())
			}
			if p.dst != tc.backend || p.src != wantSrc {
				t.Fatalf("after DNAT %v -> %v, want %v -> %v", p.src, p.dst, wantSrc, tc.backend)
			}
			if st := checkChecksums(pkt, &p); !st.ip || !st.l4 {
				t.Fatalf("after DNAT checksums valid: ip=%v l4=%v", st.ip, st.l4)
			}
			if tc.wantNoUDPCsum && binary.BigEndian.Uint16(pkt[p.l4+6:]) != 0 {
				t.Fatal("IPv4 UDP zero checksum was filled in")
			}
			if tc.proto == ProtoUDP && !tc.wantNoUDPCsum && binary.BigEndian.Uint16(pkt[p.l4+6:]) == 0 {
				t.Fatal("UDP checksum became zero")
			}
			// NAT back the same way a reply's reverse translation would.
			if err := DNAT(pkt, tc.vip); err != nil {
				t.Fatalf("DNAT back: %v", err)
			}
			if !bytes.Equal(pkt, orig) {
				t.Fatalf("round trip changed the packet:\n got %x\nwant %x", pkt, orig)
			}

			reply := buildIP(t, tc.proto, tc.backend, tc.client, tc.opts)
			if err := SNAT(reply, tc.vip); err != nil {
				t.Fatalf("SNAT: %v", err)
			}
			rp := mustParse(t, reply)
			if rp.src != tc.vip || rp.dst != tc.client {
				t.Fatalf("after SNAT %v -> %v, want %v -> %v", rp.src, rp.dst, tc.vip, tc.client)
			}
			if st := checkChecksums(reply, &rp); !st.ip || !st.l4 {
				t.Fatalf("after SNAT checksums valid: ip=%v l4=%v", st.ip, st.l4)
			}
			if want := buildIP(t, tc.proto, tc.vip, tc.client, tc.opts); !bytes.Equal(reply, want) {
				t.Fatalf("SNAT result differs from a packet built from scratch:\n got %x\nwant %x", reply, want)
			}
		})
	}
}

func TestNATErrors(t *testing.T) {
	c4 := netip.MustParseAddrPort("10.1.0.5:1000")
	v4 := netip.MustParseAddrPort("10.1.0.200:80")
	b6 := netip.MustParseAddrPort("[fd00::1]:80")
	tcp := buildIP(t, ProtoTCP, c4, v4, pktOpts{})

	later := bytes.Clone(tcp)
	binary.BigEndian.PutUint16(later[6:], 185) // fragment offset 185*8
	binary.BigEndian.PutUint16(later[10:], 0)
	binary.BigEndian.PutUint16(later[10:], ipv4HeaderChecksum(later[:20]))

	icmpErr := buildIP(t, ProtoICMP, c4, v4, pktOpts{icmpType: 3})
	v6InV4 := bytes.Clone(tcp)
	v6InV4[0] = 0x76

	for _, tc := range []struct {
		name string
		pkt  []byte
		to   netip.AddrPort
		want error
	}{
		{"empty", nil, v4, ErrShort},
		{"truncated", tcp[:30], v4, ErrShort},
		{"version 7", v6InV4, v4, ErrNotIP},
		{"garbage version", []byte{0x20, 0, 0}, v4, ErrNotIP},
		{"later fragment", later, v4, ErrFragment},
		{"icmp error", icmpErr, v4, ErrNoPorts},
		{"family", bytes.Clone(tcp), b6, ErrFamily},
		{"4in6 target", bytes.Clone(tcp), netip.AddrPortFrom(netip.MustParseAddr("::ffff:10.0.0.1"), 1), ErrFamily},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := bytes.Clone(tc.pkt)
			err := DNAT(tc.pkt, tc.to)
			if !errors.Is(err, tc.want) {
				t.Fatalf("DNAT error = %v, want %v", err, tc.want)
			}
			if !bytes.Equal(before, tc.pkt) {
				t.Fatal("a packet DNAT refused was modified")
			}
		})
	}
}

func TestNATIPv6UDPZeroChecksumRejected(t *testing.T) {
	pkt := buildIP(t, ProtoUDP, netip.MustParseAddrPort("[fd00::1]:53"), netip.MustParseAddrPort("[fd00::2]:53"), pktOpts{})
	binary.BigEndian.PutUint16(pkt[packet.IPv6HeaderLen+6:], 0)
	if err := DNAT(pkt, netip.MustParseAddrPort("[fd00::3]:53")); !errors.Is(err, ErrMalformed) {
		t.Fatalf("DNAT of IPv6 UDP without checksum = %v, want ErrMalformed", err)
	}
}

// TestNATFirstFragment: the first fragment carries the transport header, and
// its checksum (over the whole datagram) is adjusted like any other.
func TestNATFirstFragment(t *testing.T) {
	full := buildIP(t, ProtoUDP, netip.MustParseAddrPort("10.0.0.1:5000"), netip.MustParseAddrPort("10.0.0.9:53"), pktOpts{payload: make([]byte, 64)})
	first := bytes.Clone(full)
	binary.BigEndian.PutUint16(first[6:], 0x2000) // MF
	binary.BigEndian.PutUint16(first[10:], 0)
	binary.BigEndian.PutUint16(first[10:], ipv4HeaderChecksum(first[:20]))
	to := netip.MustParseAddrPort("10.0.0.77:5353")
	if err := DNAT(first, to); err != nil {
		t.Fatal(err)
	}
	if err := DNAT(full, to); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first[20:], full[20:]) {
		t.Fatal("first fragment's transport header differs from the unfragmented datagram's")
	}
}

func TestNATAllocs(t *testing.T) {
	testenv.SkipAllocsUnderRace(t)
	for _, tc := range natCases() {
		pkt := buildIP(t, tc.proto, tc.client, tc.vip, tc.opts)
		n := testing.AllocsPerRun(1000, func() {
			_ = DNAT(pkt, tc.backend)
			_ = DNAT(pkt, tc.vip)
		})
		if n != 0 {
			t.Errorf("%s: DNAT allocates %v times per run, want 0", tc.name, n)
		}
	}
}

func BenchmarkDNAT(b *testing.B) {
	for _, tc := range natCases()[:3] {
		b.Run(tc.name, func(b *testing.B) {
			pkt := buildIP(b, tc.proto, tc.client, tc.vip, tc.opts)
			b.ReportAllocs()
			b.SetBytes(int64(len(pkt)))
			for b.Loop() {
				_ = DNAT(pkt, tc.backend)
				_ = DNAT(pkt, tc.vip)
			}
		})
	}
}
