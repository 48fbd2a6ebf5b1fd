package encap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testSizes are packet sizes the exchange test cycles through: runs of
// equal sizes (which the bind coalesces with GSO), smaller tails that end a
// run, tiny and jumbo datagrams.
var testSizes = []int{1400, 1400, 1400, 1400, 200, 1400, 1400, 9000, 9000, 9000, 12, 64, 1500, 32000, 777}

const testWait = 10 * time.Second

func newTestPlain(t *testing.T, cfg PlainConfig) *Plain {
	t.Helper()
	cfg.EphemeralPort = true
	p, err := NewPlain(cfg)
	if err != nil {
		t.Fatalf("NewPlain: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// makeBatch builds n packets for batch vni, each in its own MaxPacket
// buffer at offset Headroom: a VXLAN header, the packet's index and a
// pattern derived from both.
func makeBatch(vni uint32, n int) [][]byte {
	bufs := make([][]byte, n)
	for i := range bufs {
		size := testSizes[i%len(testSizes)]
		b := make([]byte, Headroom+size, MaxPacket)
		fillPacket(b[Headroom:], vni, i)
		bufs[i] = b
	}
	return bufs
}

func fillPacket(p []byte, vni uint32, idx int) {
	Encode(p, vni)
	binary.BigEndian.PutUint32(p[HeaderLen:], uint32(idx))
	for j := HeaderLen + 4; j < len(p); j++ {
		p[j] = byte(int(vni) + idx*7 + j)
	}
}

// checkBatch verifies that pkts are exactly the n packets of batch vni,
// each once, intact, from the expected sender.
func checkBatch(t *testing.T, pkts []recvPacket, vni uint32, n int, from netip.AddrPort) {
	t.Helper()
	if len(pkts) != n {
		t.Fatalf("batch %d: received %d packets, want %d", vni, len(pkts), n)
	}
	seen := make([]bool, n)
	for _, p := range pkts {
		if p.from != from {
			t.Fatalf("batch %d: packet from %s, want %s", vni, p.from, from)
		}
		h, err := Parse(p.data)
		if err != nil || h.VNI != vni || len(p.data) < HeaderLen+4 {
			t.Fatalf("batch %d: bad packet (%d bytes, header %+v, err %v)", vni, len(p.data), h, err)
		}
		idx := int(binary.BigEndian.Uint32(p.data[HeaderLen:]))
		if idx >= n || seen[idx] {
			t.Fatalf("batch %d: unexpected or duplicate packet index %d", vni, idx)
		}
		seen[idx] = true
		want := make([]byte, testSizes[idx%len(testSizes)])
		fillPacket(want, vni, idx)
		if string(p.data) != string(want) {
			t.Fatalf("batch %d: packet %d corrupted (%d bytes, want %d)", vni, idx, len(p.data), len(want))
		}
	}
}

func TestPlainExchange(t *testing.T) {
	for _, tc := range []struct {
		name      string
		loopback  netip.Addr
		noOffload bool
	}{
		{"ipv4", netip.MustParseAddr("127.0.0.1"), false},
		{"ipv6", netip.IPv6Loopback(), false},
		{"ipv4-no-offload", netip.MustParseAddr("127.0.0.1"), true},
		{"ipv6-no-offload", netip.IPv6Loopback(), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestPlain(t, PlainConfig{DisableOffload: tc.noOffload})
			b := newTestPlain(t, PlainConfig{DisableOffload: tc.noOffload})
			if a.LocalPort() == b.LocalPort() || a.LocalPort() == 0 {
				t.Fatalf("ephemeral ports %d and %d: want distinct and non-zero", a.LocalPort(), b.LocalPort())
			}
			ra, rb := newRecorder(t), newRecorder(t)
			if err := a.Start(ra); err != nil {
				t.Fatal(err)
			}
			if err := b.Start(rb); err != nil {
				t.Fatal(err)
			}
			addrA := netip.AddrPortFrom(tc.loopback, a.LocalPort())
			addrB := netip.AddrPortFrom(tc.loopback, b.LocalPort())

			var sentPkts, sentBytes uint64
			for _, n := range []int{1, 2, 3, 15, 31, 32, 33, 63, 64} {
				vni := uint32(n)
				batch := makeBatch(vni, n)
				if err := a.Send(batch, Headroom, addrB); err != nil {
					t.Fatalf("a.Send(%d packets): %v", n, err)
				}
				for _, buf := range batch {
					sentBytes += uint64(len(buf) - Headroom)
				}
				sentPkts += uint64(n)
				checkBatch(t, rb.waitFor(n, testWait), vni, n, addrA)
				rb.reset()

				if err := b.Send(makeBatch(vni, n), Headroom, addrA); err != nil {
					t.Fatalf("b.Send(%d packets): %v", n, err)
				}
				checkBatch(t, ra.waitFor(n, testWait), vni, n, addrB)
				ra.reset()
			}
			st := a.Stats()
			if st.PacketsSent != sentPkts || st.BytesSent != sentBytes || st.SendErrors != 0 {
				t.Errorf("a.Stats() = %+v, want %d packets and %d bytes sent, no errors", st, sentPkts, sentBytes)
			}
			if st := b.Stats(); st.PacketsReceived != sentPkts || st.BytesReceived != sentBytes || st.ReceiveErrors != 0 {
				t.Errorf("b.Stats() = %+v, want %d packets and %d bytes received, no errors", st, sentPkts, sentBytes)
			}
		})
	}
}

func TestPlainSendToMappedIPv4(t *testing.T) {
	a := newTestPlain(t, PlainConfig{})
	b := newTestPlain(t, PlainConfig{})
	rb := newRecorder(t)
	if err := b.Start(rb); err != nil {
		t.Fatal(err)
	}
	mapped := netip.AddrPortFrom(netip.MustParseAddr("::ffff:127.0.0.1"), b.LocalPort())
	if err := a.Send(makeBatch(5, 4), Headroom, mapped); err != nil {
		t.Fatalf("Send to %s: %v", mapped, err)
	}
	// The sender shows up unmapped, as the IPv4 address it is.
	checkBatch(t, rb.waitFor(4, testWait), 5, 4, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), a.LocalPort()))
}

func TestPlainPortInUse(t *testing.T) {
	a := newTestPlain(t, PlainConfig{})
	p, err := NewPlain(PlainConfig{Port: a.LocalPort()})
	if err == nil {
		p.Close()
		t.Fatalf("second transport on port %d: no error", a.LocalPort())
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("error %q does not wrap EADDRINUSE", err)
	}
	port := strconv.Itoa(int(a.LocalPort()))
	for _, want := range []string{port, "another meshnet", "kernel vxlan"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestPlainSendRejects(t *testing.T) {
	a := newTestPlain(t, PlainConfig{})
	dst := netip.MustParseAddrPort("127.0.0.1:9")
	tooMany := make([][]byte, a.BatchSize()+1)
	for i := range tooMany {
		tooMany[i] = make([]byte, Headroom+HeaderLen)
	}
	if err := a.Send(tooMany, Headroom, dst); err == nil {
		t.Error("Send of BatchSize+1 packets: no error")
	}
	if err := a.Send([][]byte{make([]byte, 10)}, Headroom, dst); err == nil {
		t.Error("Send of a buffer shorter than the offset: no error")
	}
	if err := a.Send(makeBatch(1, 1), Headroom, netip.AddrPort{}); err == nil {
		t.Error("Send to the zero address: no error")
	}
	if err := a.Send(makeBatch(1, 1), Headroom, netip.MustParseAddrPort("127.0.0.1:0")); err == nil {
		t.Error("Send to port 0: no error")
	}
	if err := a.Send(nil, Headroom, dst); err != nil {
		t.Errorf("Send of no packets: %v", err)
	}
	if st := a.Stats(); st.PacketsSent != 0 {
		t.Errorf("rejected sends counted as sent: %+v", st)
	}
}

func TestPlainLifecycle(t *testing.T) {
	const receiveLoop = "encap.(*Plain).Start"
	before := goroutinesStartedBy(receiveLoop)
	p, err := NewPlain(PlainConfig{EphemeralPort: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(nil); err == nil {
		t.Error("Start(nil): no error")
	}
	r := newRecorder(t)
	if err := p.Start(r); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := p.Start(r); err == nil {
		t.Error("second Start: no error")
	}
	if got := goroutinesStartedBy(receiveLoop) - before; got != 2 {
		t.Errorf("%d receive goroutines after Start, want 2 (IPv4 and IPv6)", got)
	}
	if p.Secure() {
		t.Error("plain transport claims to be secure")
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := goroutinesStartedByAfterStop(receiveLoop, before) - before; got != 0 {
		t.Errorf("%d receive goroutines still running after Close", got)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := p.Send(makeBatch(1, 1), Headroom, netip.MustParseAddrPort("127.0.0.1:9")); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: err = %v, want ErrClosed", err)
	}
	if err := p.Start(r); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: err = %v, want ErrClosed", err)
	}
	// The port is free again.
	q, err := NewPlain(PlainConfig{Port: p.LocalPort()})
	if err != nil {
		t.Fatalf("reopening port %d after Close: %v", p.LocalPort(), err)
	}
	q.Close()
}

func ExampleNewPlain() {
	p, err := NewPlain(PlainConfig{EphemeralPort: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	fmt.Println(p.Secure(), p.BatchSize())
	// Output: false 64
}
